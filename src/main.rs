use clap::Parser;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = authd::cli::Cli::parse();
    if let Err(e) = authd::cli::run(cli) {
        eprintln!("error: {}", e.0);
        std::process::exit(1);
    }
}
