//! Rows of tables (the row encoding): decoded into typed elements at the head of
//! a chain after a table source, and encoded from them at the tail of a chain
//! that `save-as-table` writes.

use std::any::Any;
use std::marker::PhantomData;

use super::encode::Output;
use super::{BATCH, Built, RawSink, Sink, downstream, hand_on};
use crate::codec;
use crate::{Data, Error, Result};

/// Decodes each record's value, a row, into `T`.
struct RowsHead<T> {
    batch: Vec<T>,
    next: Box<dyn Sink<T>>,
}

impl<T: Data> RawSink for RowsHead<T> {
    fn push_raw(&mut self, _: Option<&[u8]>, value: &[u8]) -> Result<()> {
        self.batch.push(codec::decode_row(value)?);
        if self.batch.len() >= BATCH {
            hand_on(&mut self.batch, &mut *self.next)?;
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        hand_on(&mut self.batch, &mut *self.next)?;
        self.next.finish()
    }
}

pub(crate) fn build_decode_rows<T: Data>(_: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built> {
    if !first {
        return Err(Error::msg("a row decoder must start its chain (a plan the SDK does not make)"));
    }
    Ok(Built::Raw(Box::new(RowsHead::<T> { batch: Vec::with_capacity(BATCH), next: downstream(next)? })))
}

/// Encodes each element as a row into the task output.
struct RowsTail<T> {
    row: Vec<u8>,
    out: Output,
    _t: PhantomData<fn(T)>,
}

impl<T: Data> Sink<T> for RowsTail<T> {
    fn push(&mut self, item: T) -> Result<()> {
        codec::encode_row(&item, &mut self.row)?;
        self.out.write(None, &self.row);
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        self.out.flush();
        Ok(())
    }
}

pub(crate) fn build_encode_rows<T: Data>(_: &[u8], next: Option<Box<dyn Any>>, first: bool) -> Result<Built> {
    if next.is_some() {
        return Err(Error::msg("a row encoder must end its chain (a plan the SDK does not make)"));
    }
    let tail: Box<dyn Sink<T>> = Box::new(RowsTail::<T> { row: Vec::new(), out: Output::new(), _t: PhantomData });
    Ok(super::wrap::<T>(tail, first))
}
