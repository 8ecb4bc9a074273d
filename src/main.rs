use clap::Parser;

fn main() {
    let cli = authd::cli::Cli::parse();
    let telemetry = match authd::telemetry::init(&cli.global.telemetry) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let result = authd::cli::run(cli);
    // The server has stopped: the spans not yet exported go now.
    telemetry.shutdown();
    if let Err(e) = result {
        eprintln!("error: {}", e.0);
        std::process::exit(1);
    }
}
