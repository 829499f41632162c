//! mapfs-fsx: randomized file-operation checker (see `mapfs-fsx --help`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => args.push(s),
            // Refuse rather than panic (std::env::args would) or mangle a
            // path.
            Err(a) => {
                eprintln!("mapfs-fsx: argument {a:?} is not valid UTF-8");
                return ExitCode::from(mapfs_fsx::app::EXIT_USAGE);
            }
        }
    }
    ExitCode::from(mapfs_fsx::app::main_with_args(&args))
}
