//! The text format: `tracing-subscriber`'s usual line (time, level, the
//! spans with their fields, target, message and fields), except that an
//! audit event shows its message alone. Its message is the audit line
//! (`event=login outcome=success user_id="u1" ...`, see [`crate::audit`]),
//! which already says what its fields say.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The text event format.
#[derive(Default)]
pub(super) struct Text(Format<Full>);

impl<S, N> FormatEvent<S, N> for Text
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let message_field = meta.fields().field("message");
        let (true, Some(field)) = (meta.target() == crate::audit::TARGET, message_field) else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut message = Message(String::new());
        event.record(&mut message);
        let text: &str = &message.0;
        let values = [(&field, Some(&text as &dyn tracing::Value))];
        let fields = meta.fields().value_set(&values);
        let alone = match event.parent() {
            Some(parent) => Event::new_child_of(parent.clone(), meta, &fields),
            None if event.is_root() => Event::new_child_of(None, meta, &fields),
            None => Event::new(meta, &fields),
        };
        self.0.format_event(ctx, writer, &alone)
    }
}

/// Reads an event's message.
struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            use std::fmt::Write;
            let _ = write!(self.0, "{value:?}");
        }
    }
}
