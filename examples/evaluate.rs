//! Prints how the shipped rules' decisions line up with the labels of the Softoft ticket data
//! set: `cargo run --release --example evaluate [-- RULES_DIR [DATA_DIR]]`.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rules_dir = PathBuf::from(args.next().unwrap_or_else(|| "rules".into()));
    let data_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| triage::eval::data_dir().join("tickets-softoft"));
    let rules = triage::rules::load_dir(&rules_dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let data = triage::eval::load_softoft(&data_dir)?;
    let report = triage::eval::evaluate(&rules.rules, &data);
    println!("{}", report.markdown());
    Ok(())
}
