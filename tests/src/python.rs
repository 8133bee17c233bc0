//! A Python with PyArrow (from PyPI), the independent reader tests check
//! Spindle's Parquet, CSV and JSON lines files with.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The PyArrow version tests install.
const PYARROW: &str = "pyarrow==26.0.1";

/// A virtual environment with PyArrow under the target directory, made (with
/// `python3 -m venv` and pip) the first time a test asks for it.
pub fn pyarrow() -> Result<PathBuf> {
    let venv = crate::root().join("target").join("pyarrow-venv");
    let python = venv.join("bin").join("python");
    let ready = |p: &PathBuf| Command::new(p).args(["-c", "import pyarrow"]).output().is_ok_and(|o| o.status.success());
    if ready(&python) {
        return Ok(python);
    }
    // Made beside and moved into place, so that tests running at once never
    // see half an environment.
    let building = venv.with_extension(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let status =
        Command::new("python3").args(["-m", "venv"]).arg(&building).status().context("running python3 -m venv")?;
    if !status.success() {
        bail!("python3 -m venv failed: install python3-venv");
    }
    let pip = building.join("bin").join("pip");
    let out = Command::new(&pip).args(["install", "--quiet", PYARROW]).output().context("running pip")?;
    if !out.status.success() {
        bail!("pip install {PYARROW} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    // A venv's scripts name its path: make it again in place if another test won the race.
    if std::fs::rename(&building, &venv).is_err() && !ready(&python) {
        bail!("could not move the PyArrow environment into {}", venv.display());
    }
    let _ = std::fs::remove_dir_all(&building);
    if !ready(&python) {
        bail!("PyArrow is not importable from {}", python.display());
    }
    Ok(python)
}

/// Runs `script` with the PyArrow Python, `args` after it; its stdout.
pub fn run(script: &str, args: &[&str]) -> Result<String> {
    let python = pyarrow()?;
    let out = Command::new(python).arg("-c").arg(script).args(args).output()?;
    if !out.status.success() {
        bail!("python failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}
