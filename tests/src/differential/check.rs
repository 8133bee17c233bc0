//! Whether an answer is what the reference expects.

use super::expect::Expect;
use super::program::{Answer, V};
use super::reference::Run;

fn sorted(mut v: Vec<V>) -> Vec<V> {
    v.sort();
    v
}

/// Whether every element of `part` is in `of`, as many times at least.
fn sub_multiset(part: &[V], of: &[V]) -> bool {
    let mut rest = sorted(of.to_vec());
    for v in part {
        match rest.binary_search(v) {
            Ok(i) => {
                rest.remove(i);
            }
            Err(_) => return false,
        }
    }
    true
}

/// Whether `got` is the first `n` elements of `runs` (a run's elements in any order).
fn prefix_of(got: &[V], runs: &[Run], n: usize) -> bool {
    let total: usize = runs.iter().map(Vec::len).sum();
    if got.len() != n.min(total) {
        return false;
    }
    let mut at = 0;
    for run in runs {
        if at == got.len() {
            break;
        }
        let take = run.len().min(got.len() - at);
        let chunk = &got[at..at + take];
        let ok =
            if take == run.len() { sorted(chunk.to_vec()) == sorted(run.clone()) } else { sub_multiset(chunk, run) };
        if !ok {
            return false;
        }
        at += take;
    }
    true
}

/// Whether `answer` meets `expect`.
pub fn meets(answer: &Answer, expect: &Expect) -> bool {
    let Ok(got) = answer else { return false };
    match expect {
        Expect::Runs(runs) => prefix_of(got, runs, usize::MAX) && got.len() == runs.iter().map(Vec::len).sum::<usize>(),
        Expect::Prefix(runs, n) => prefix_of(got, runs, *n),
        Expect::Exact(want) => got == want,
        Expect::Any => true,
        Expect::Sample { pool, num, replace } => {
            let want = if pool.is_empty() {
                0
            } else if *replace {
                *num
            } else {
                (*num).min(pool.len())
            };
            got.len() == want && if *replace { got.iter().all(|v| pool.contains(v)) } else { sub_multiset(got, pool) }
        }
        Expect::AsMap(groups) => {
            got.len() == groups.len()
                && got.iter().zip(groups).all(|(g, (k, vs))| matches!(g, V::P(gk, gv) if **gk == *k && vs.contains(gv)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(x: i64) -> V {
        V::I(x)
    }

    #[test]
    fn runs_fix_order_between_runs_only() {
        let runs = vec![vec![i(1)], vec![i(2), i(3)], vec![i(4)]];
        assert!(meets(&Ok(vec![i(1), i(3), i(2), i(4)]), &Expect::Runs(runs.clone())));
        assert!(!meets(&Ok(vec![i(3), i(1), i(2), i(4)]), &Expect::Runs(runs.clone())));
        assert!(!meets(&Ok(vec![i(1), i(2), i(3)]), &Expect::Runs(runs.clone())));
        assert!(meets(&Ok(vec![i(1), i(3)]), &Expect::Prefix(runs.clone(), 2)));
        assert!(!meets(&Ok(vec![i(1), i(4)]), &Expect::Prefix(runs.clone(), 2)));
        assert!(meets(&Ok(vec![i(1), i(2), i(3), i(4)]), &Expect::Prefix(runs.clone(), 10)));
        assert!(!meets(&Err("failed".into()), &Expect::Any));
    }
}
