//! Tables in and out: CSV converted to Parquet (or JSON lines), and a
//! group-by-sum over Parquet with a filter pushed down to its row groups.
//!
//! ```text
//! tables convert IN OUT [parquet|json|csv [fail]]   CSV trips (header id,city,fare,tip) -> OUT
//! tables aggregate IN OUT [MIN_FARE]         Parquet trips -> CSV city,trips,total
//! ```
//!
//! Rows that do not parse are skipped and counted (`permissive`), and the
//! count printed: `skipped N malformed rows`; with `fail`, the first one fails
//! the job, naming its file, byte offset and column.

use serde::{Deserialize, Serialize};
use spindle::{CompareOp, Dataset, Table, TableFormat, TableSave};

/// A row of the trips table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trip {
    pub id: i64,
    pub city: String,
    pub fare: f64,
    pub tip: Option<f64>,
}

/// The columns the aggregation reads (Parquet reads only these).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fare {
    pub city: String,
    pub fare: f64,
}

/// A row of the aggregation's output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CityTotal {
    pub city: String,
    pub trips: u64,
    pub total: f64,
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    let usage = || spindle::Error::msg("usage: convert IN OUT [parquet|json|csv] | aggregate IN OUT [MIN_FARE]");
    let (command, input, output) = match args.as_slice() {
        [c, i, o, ..] => (c.as_str(), i.as_str(), o.as_str()),
        _ => return Err(usage()),
    };
    match command {
        "convert" => {
            let skipped = spindle::accumulator::<i64>("malformed rows");
            let mut table = Table::csv(input);
            if args.get(4).map(String::as_str) != Some("fail") {
                table = table.permissive(&skipped);
            }
            let trips: Dataset<Trip> = table.read()?;
            let format = match args.get(3).map(String::as_str) {
                None | Some("parquet") => TableFormat::Parquet,
                Some("json") => TableFormat::JsonLines,
                Some("csv") => TableFormat::Csv,
                Some(other) => return Err(spindle::Error::msg(format!("unknown format {other}"))),
            };
            trips.save_as_table(output, TableSave::new(format))?;
            println!("skipped {} malformed rows", skipped.value());
        }
        "aggregate" => {
            let mut table = Table::parquet(input);
            if let Some(m) = args.get(3) {
                let min: f64 = m.parse().map_err(|_| spindle::Error::msg(format!("MIN_FARE {m} is not a number")))?;
                table = table.filter("fare", CompareOp::Ge, min);
            }
            let fares: Dataset<Fare> = table.read()?;
            fares
                .map(|f: Fare| (f.city, (1u64, f.fare)))
                .reduce_by_key(|a: (u64, f64), b: (u64, f64)| (a.0 + b.0, a.1 + b.1))
                .map(|(city, (trips, total)): (String, (u64, f64))| CityTotal { city, trips, total })
                .save_as_csv(output)?;
        }
        _ => return Err(usage()),
    }
    Ok(())
}

spindle::main!(run);
