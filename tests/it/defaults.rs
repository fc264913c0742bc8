//! Defaults are defined once, in the library: the CLI's help must show the values the
//! library's `Default`s hold, so that `neardup tune` and a library caller of `tune` (or
//! `report`, or `eval`) sweep, show and list the same things.

use std::path::Path;

use neardup::eval::EvalOptions;
use neardup::report::ReportOptions;
use neardup::tune::TuneOptions;

use crate::util::neardup_ok;

/// The `[default: ...]` the help of `command` shows for `flag`.
fn help_default(command: &str, flag: &str) -> String {
    let out = neardup_ok(Path::new("."), &[command, "--help"]);
    let help = String::from_utf8(out.stdout).expect("help is UTF-8");
    let line = help
        .lines()
        .find(|l| l.trim_start().starts_with(flag))
        .unwrap_or_else(|| panic!("`neardup {command} --help` has no {flag}:\n{help}"));
    let start = line.find("[default: ").expect("the flag shows a default") + "[default: ".len();
    line[start..line[start..].find(']').expect("closed") + start].to_owned()
}

fn joined<T>(values: &[T], show: impl Fn(&T) -> String) -> String {
    values.iter().map(show).collect::<Vec<_>>().join(",")
}

#[test]
fn the_cli_shows_the_library_defaults() {
    let tune = TuneOptions::default();
    assert_eq!(
        help_default("tune", "--thresholds"),
        joined(&tune.thresholds, ToString::to_string)
    );
    assert_eq!(
        help_default("tune", "--containments"),
        joined(&tune.containments, |c| c
            .map_or_else(|| "off".to_owned(), |c| c.to_string()))
    );
    assert_eq!(
        help_default("tune", "--shingles"),
        joined(&tune.shingles, ToString::to_string)
    );
    assert_eq!(
        help_default("report", "--max-clusters"),
        ReportOptions::default().max_clusters.to_string()
    );
    assert_eq!(
        help_default("eval", "--top"),
        EvalOptions::default().top.to_string()
    );
}
