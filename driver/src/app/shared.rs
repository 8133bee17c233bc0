//! Values an application shares between `main` and its tasks: broadcast values
//! (executors pull each once and keep it) and accumulators (tasks add, `main`
//! reads; each stage partition's updates count once).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use spindle_proto::{AccumulatorUpdate, accumulator_update};

/// An accumulator's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A whole number.
    Int(i64),
    /// A floating-point number.
    Float(f64),
}

/// The application's broadcast values, by id.
#[derive(Debug, Default)]
pub struct Broadcasts {
    values: Mutex<HashMap<u64, Bytes>>,
    next: AtomicU64,
}

impl Broadcasts {
    /// Keeps `value`; returns its id.
    pub fn add(&self, value: Bytes) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.values.lock().expect("broadcasts lock").insert(id, value);
        id
    }

    /// The value of `id`, if it exists.
    pub fn get(&self, id: u64) -> Option<Bytes> {
        self.values.lock().expect("broadcasts lock").get(&id).cloned()
    }

    /// Bytes of every value held.
    pub fn bytes(&self) -> u64 {
        self.values.lock().expect("broadcasts lock").values().map(|v| v.len() as u64).sum()
    }

    /// Drops `id`; whether it existed.
    pub fn remove(&self, id: u64) -> bool {
        self.values.lock().expect("broadcasts lock").remove(&id).is_some()
    }
}

struct Accumulator {
    name: String,
    value: Number,
}

/// The application's accumulators, by id.
#[derive(Default)]
pub struct Accumulators {
    values: Mutex<Vec<Accumulator>>,
}

impl Accumulators {
    /// A new accumulator starting at `zero`; returns its id.
    pub fn add(&self, name: String, zero: Number) -> u64 {
        let mut values = self.values.lock().expect("accumulators lock");
        values.push(Accumulator { name, value: zero });
        values.len() as u64 - 1
    }

    /// How many accumulators exist.
    pub fn len(&self) -> u64 {
        self.values.lock().expect("accumulators lock").len() as u64
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `id`, if it exists.
    pub fn get(&self, id: u64) -> Option<Number> {
        self.values.lock().expect("accumulators lock").get(id as usize).map(|a| a.value)
    }

    /// Applies one successful task's updates. An update of the wrong kind or for
    /// an unknown id is dropped with a warning (the SDKs make both impossible).
    pub fn apply(&self, updates: &[AccumulatorUpdate]) {
        if updates.is_empty() {
            return;
        }
        let mut values = self.values.lock().expect("accumulators lock");
        for u in updates {
            let Some(acc) = values.get_mut(u.id as usize) else {
                tracing::warn!(id = u.id, "a task updated an accumulator that does not exist");
                continue;
            };
            match (&mut acc.value, u.delta) {
                (Number::Int(v), Some(accumulator_update::Delta::Int(d))) => *v = v.wrapping_add(d),
                (Number::Float(v), Some(accumulator_update::Delta::Float(d))) => *v += d,
                (Number::Float(v), Some(accumulator_update::Delta::Int(d))) => *v += d as f64,
                _ => tracing::warn!(accumulator = %acc.name, "a task added a float to an integer accumulator; dropped"),
            }
        }
    }
}
