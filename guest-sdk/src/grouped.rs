//! The element types of cogroups and outer joins: plain tuples, named so that
//! signatures read well. Beneath both the dataset API that makes them and the
//! pipeline that decodes them.

/// An element of a two-way [`Dataset::cogroup`](crate::Dataset::cogroup): a key, its values on the left
/// and on the right.
pub type CoGrouped<K, V, W> = (K, (Vec<V>, Vec<W>));

/// An element of [`Dataset::cogroup3`](crate::Dataset::cogroup3): a key and its values in each input.
pub type CoGrouped3<K, V, W, X> = (K, (Vec<V>, Vec<W>, Vec<X>));

/// An element of [`Dataset::cogroup4`](crate::Dataset::cogroup4): a key and its values in each input.
pub type CoGrouped4<K, V, W, X, Y> = (K, (Vec<V>, Vec<W>, Vec<X>, Vec<Y>));

/// An element of [`Dataset::full_outer_join`](crate::Dataset::full_outer_join): a key and a value of either
/// side, or both.
pub type OuterJoined<K, V, W> = (K, (Option<V>, Option<W>));
