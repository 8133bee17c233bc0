//! Values shared between `main` and tasks: [`Broadcast`] values, read-only in
//! tasks, and [`Accumulator`]s, which tasks add to and `main` reads.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::__private::bindings::spindle::job::{context, task_io, types};
use crate::{Data, Error, Result, codec};

thread_local! {
    /// Decoded broadcast values of this instance, by id.
    static VALUES: RefCell<HashMap<u64, Rc<dyn Any>>> = RefCell::new(HashMap::new());
}

/// A value shipped to every executor once per application and readable from
/// every task. It is a small handle: capture it with the `_with` variants
/// (e.g. [`Dataset::map_with`](crate::Dataset::map_with)) and call
/// [`value`](Self::value) inside the closure.
#[derive(Serialize, Deserialize)]
pub struct Broadcast<T> {
    id: u64,
    #[serde(skip)]
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Broadcast<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Broadcast<T> {}

impl<T> std::fmt::Debug for Broadcast<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Broadcast({})", self.id)
    }
}

/// Makes `value` readable from every task of this application.
pub fn broadcast<T: Data>(value: T) -> Result<Broadcast<T>> {
    let mut bytes = Vec::new();
    codec::encode_top(&value, &mut bytes)?;
    let id = context::broadcast(&bytes);
    VALUES.with(|v| v.borrow_mut().insert(id, Rc::new(value)));
    Ok(Broadcast { id, _t: PhantomData })
}

impl<T: Data> Broadcast<T> {
    /// The value: in `main`, the one given; in a task, fetched (once per
    /// executor) and decoded (once per task).
    pub fn value(&self) -> Result<Rc<T>> {
        let kept = VALUES.with(|v| v.borrow().get(&self.id).cloned());
        let any = match kept {
            Some(v) => v,
            None => {
                let bytes = task_io::broadcast_value(self.id).map_err(Error::msg)?;
                let value: Rc<dyn Any> = Rc::new(codec::decode_top::<T>(&bytes)?);
                VALUES.with(|v| v.borrow_mut().insert(self.id, value.clone()));
                value
            }
        };
        any.downcast::<T>().map_err(|_| Error::msg(format!("broadcast {} holds another type", self.id)))
    }

    /// Drops the value from the driver and every executor; tasks that read it
    /// afterwards fail.
    pub fn unpersist(&self) {
        VALUES.with(|v| v.borrow_mut().remove(&self.id));
        context::unpersist_broadcast(self.id);
    }
}

/// A number an [`Accumulator`] can hold: `i64` (exact) or `f64`.
pub trait AccumulatorValue: Copy + 'static {
    #[doc(hidden)]
    fn to_number(self) -> types::Number;
    #[doc(hidden)]
    fn from_number(n: types::Number) -> Option<Self>;
    #[doc(hidden)]
    const ZERO: Self;
}

impl AccumulatorValue for i64 {
    fn to_number(self) -> types::Number {
        types::Number::Int(self)
    }
    fn from_number(n: types::Number) -> Option<Self> {
        match n {
            types::Number::Int(i) => Some(i),
            types::Number::Float(_) => None,
        }
    }
    const ZERO: Self = 0;
}

impl AccumulatorValue for f64 {
    fn to_number(self) -> types::Number {
        types::Number::Float(self)
    }
    fn from_number(n: types::Number) -> Option<Self> {
        match n {
            types::Number::Float(f) => Some(f),
            types::Number::Int(i) => Some(i as f64),
        }
    }
    const ZERO: Self = 0.0;
}

/// A counter or sum that tasks add to and `main` reads after actions. Each
/// task's additions count once per stage and partition, however often the task
/// was retried, speculated or recomputed within its job. Capture it with the
/// `_with` variants and call [`add`](Self::add) inside the closure.
#[derive(Serialize, Deserialize)]
pub struct Accumulator<N> {
    id: u64,
    #[serde(skip)]
    _n: PhantomData<fn() -> N>,
}

impl<N> Clone for Accumulator<N> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<N> Copy for Accumulator<N> {}

impl<N> std::fmt::Debug for Accumulator<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Accumulator({})", self.id)
    }
}

/// A new accumulator named `name`, starting at zero.
pub fn accumulator<N: AccumulatorValue>(name: &str) -> Accumulator<N> {
    Accumulator { id: context::accumulator(name, N::ZERO.to_number()), _n: PhantomData }
}

impl<N: AccumulatorValue> Accumulator<N> {
    /// Adds `delta`: inside a task (counted once per stage and partition, see
    /// above), or in `main`, where it applies at once.
    pub fn add(&self, delta: N) {
        task_io::add_to_accumulator(self.id, delta.to_number());
    }

    /// The id the host knows it by.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The value after the actions run so far (in `main`).
    pub fn value(&self) -> N {
        context::accumulator_value(self.id).and_then(N::from_number).unwrap_or(N::ZERO)
    }
}
