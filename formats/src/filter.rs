//! Simple comparisons (`column op value`) a read keeps rows by: checked on every
//! row, and on Parquet row groups' statistics to skip whole groups.

use std::cmp::Ordering;

use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;
use spindle_frame::row::Value;
use spindle_proto::{CompareOp, Predicate, scalar};

/// Whether `value` satisfies `op` against `with`; a null or a value of another
/// kind never does.
pub fn satisfies(value: &Value<'_>, op: CompareOp, with: &scalar::Value) -> bool {
    compare(value, with).is_some_and(|o| holds(o, op))
}

fn holds(o: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
    }
}

/// How `value` compares with the scalar (numbers across int and float).
fn compare(value: &Value<'_>, with: &scalar::Value) -> Option<Ordering> {
    use scalar::Value as S;
    match (value, with) {
        (Value::Int(a), S::Int(b)) => Some(a.cmp(b)),
        (Value::Int(a), S::Float(b)) => (*a as f64).partial_cmp(b),
        (Value::Float(a), S::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Value::Float(a), S::Float(b)) => a.partial_cmp(b),
        (Value::Str(a), S::Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Value::Bool(a), S::Boolean(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// A predicate's column, operator and value, or why it is not one.
pub fn parts(p: &Predicate) -> Result<(&str, CompareOp, &scalar::Value), String> {
    let op = CompareOp::try_from(p.op).map_err(|_| format!("filter on `{}`: unknown operator {}", p.column, p.op))?;
    let value = p.value.as_ref().and_then(|v| v.value.as_ref());
    let value = value.ok_or_else(|| format!("filter on `{}` has no value to compare with", p.column))?;
    Ok((p.column.as_str(), op, value))
}

/// Whether some row of the row group may satisfy every predicate, judging by
/// its columns' statistics (`true` whenever they cannot tell).
pub fn row_group_may_match(group: &RowGroupMetaData, filters: &[Predicate]) -> bool {
    filters.iter().all(|p| {
        let Ok((column, op, with)) = parts(p) else { return true };
        let Some(chunk) = group.columns().iter().find(|c| c.column_path().string() == column) else {
            return true;
        };
        let Some(stats) = chunk.statistics() else { return true };
        if stats.null_count_opt() == Some(group.num_rows() as u64) {
            return false; // nulls only: nothing satisfies a comparison
        }
        let Some((min, max)) = bounds(stats) else { return true };
        range_may_hold(&min, &max, op, with)
    })
}

/// A column chunk's smallest and largest values as row values, where the
/// statistics have both and the type compares as Spindle compares.
fn bounds(stats: &Statistics) -> Option<(Value<'_>, Value<'_>)> {
    Some(match stats {
        Statistics::Boolean(s) => (Value::Bool(*s.min_opt()?), Value::Bool(*s.max_opt()?)),
        Statistics::Int32(s) => (Value::Int(i64::from(*s.min_opt()?)), Value::Int(i64::from(*s.max_opt()?))),
        Statistics::Int64(s) => (Value::Int(*s.min_opt()?), Value::Int(*s.max_opt()?)),
        Statistics::Float(s) => (Value::Float(f64::from(*s.min_opt()?)), Value::Float(f64::from(*s.max_opt()?))),
        Statistics::Double(s) => (Value::Float(*s.min_opt()?), Value::Float(*s.max_opt()?)),
        Statistics::ByteArray(s) => {
            let min = std::str::from_utf8(s.min_opt()?.data()).ok()?;
            let max = std::str::from_utf8(s.max_opt()?.data()).ok()?;
            (Value::Str(min), Value::Str(max))
        }
        _ => return None,
    })
}

/// Whether a value in `[min, max]` may satisfy `op with`.
fn range_may_hold(min: &Value<'_>, max: &Value<'_>, op: CompareOp, with: &scalar::Value) -> bool {
    let (Some(lo), Some(hi)) = (compare(min, with), compare(max, with)) else { return true };
    match op {
        CompareOp::Eq => lo != Ordering::Greater && hi != Ordering::Less,
        CompareOp::Ne => !(lo == Ordering::Equal && hi == Ordering::Equal),
        CompareOp::Lt => lo == Ordering::Less,
        CompareOp::Le => lo != Ordering::Greater,
        CompareOp::Gt => hi == Ordering::Greater,
        CompareOp::Ge => hi != Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalar::Value as S;

    #[test]
    fn rows_and_ranges_compare_across_numbers_and_never_match_null() {
        assert!(satisfies(&Value::Int(3), CompareOp::Gt, &S::Float(2.5)));
        assert!(!satisfies(&Value::Null, CompareOp::Ne, &S::Int(1)));
        assert!(!satisfies(&Value::Str("a"), CompareOp::Eq, &S::Int(1)));
        assert!(satisfies(&Value::Str("b"), CompareOp::Ge, &S::Text("a".into())));
        let (min, max) = (Value::Int(10), Value::Int(20));
        assert!(!range_may_hold(&min, &max, CompareOp::Lt, &S::Int(10)));
        assert!(range_may_hold(&min, &max, CompareOp::Le, &S::Int(10)));
        assert!(!range_may_hold(&min, &max, CompareOp::Gt, &S::Int(20)));
        assert!(range_may_hold(&min, &max, CompareOp::Eq, &S::Int(15)));
        assert!(!range_may_hold(&min, &max, CompareOp::Eq, &S::Int(21)));
        assert!(!range_may_hold(&Value::Int(5), &Value::Int(5), CompareOp::Ne, &S::Int(5)));
    }
}
