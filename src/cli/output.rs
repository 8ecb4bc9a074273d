//! Printing results: one JSON document with `--json`, readable text otherwise.

use serde::Serialize;

/// Prints `value` as JSON when `json`, else `text`.
pub fn print<T: Serialize>(json: bool, value: &T, text: &str) {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot encode output: {e}"),
        }
    } else if !text.is_empty() {
        println!("{text}");
    }
}

/// Joins a list for text output, `-` when empty.
pub fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(" ")
    }
}
