//! Where each shuffle's map outputs live, per application. A location counts only
//! while its executor is alive: an output on a lost or stopped executor is
//! missing, and the map task that made it runs again.

use std::collections::HashMap;
use std::sync::Mutex;

use spindle_proto::MapLocation;
use spindle_proto::ids::ShuffleId;

use crate::cluster::Cluster;

/// The map outputs of one application's shuffles, by map id.
#[derive(Debug, Default)]
pub struct MapOutputs {
    shuffles: Mutex<HashMap<ShuffleId, Vec<Option<MapLocation>>>>,
}

impl MapOutputs {
    /// The map ids of `shuffle` (of `maps` map tasks) with no live output.
    pub fn missing(&self, shuffle: ShuffleId, maps: u32, cluster: &Cluster) -> Vec<u32> {
        let mut shuffles = self.shuffles.lock().expect("map outputs lock");
        if maps == 0 {
            // A shuffle of an empty dataset (no map tasks) is complete as it is.
            shuffles.entry(shuffle).or_default();
            return Vec::new();
        }
        let Some(locations) = shuffles.get(&shuffle) else { return (0..maps).collect() };
        let registered = cluster.registered();
        (0..maps)
            .filter(|&m| match locations.get(m as usize) {
                Some(Some(loc)) => !registered.contains_named(&loc.executor_id),
                _ => true,
            })
            .collect()
    }

    /// Records where map task `map` of `shuffle` (of `maps`) left its output.
    pub fn record(&self, shuffle: ShuffleId, maps: u32, location: MapLocation) {
        let mut shuffles = self.shuffles.lock().expect("map outputs lock");
        let locations = shuffles.entry(shuffle).or_insert_with(|| vec![None; maps as usize]);
        let slot = location.map_id as usize;
        if slot < locations.len() {
            locations[slot] = Some(location);
        }
    }

    /// Every location of `shuffle`, if each map output is known and alive.
    pub fn complete(&self, shuffle: ShuffleId, cluster: &Cluster) -> Option<Vec<MapLocation>> {
        let shuffles = self.shuffles.lock().expect("map outputs lock");
        let registered = cluster.registered();
        shuffles
            .get(&shuffle)?
            .iter()
            .map(|l| l.clone().filter(|l| registered.contains_named(&l.executor_id)))
            .collect()
    }

    /// Forgets every output kept on `executor` (a reducer could not read them);
    /// returns how many.
    pub fn forget_executor(&self, executor: &str) -> usize {
        let mut shuffles = self.shuffles.lock().expect("map outputs lock");
        let mut n = 0;
        for loc in shuffles.values_mut().flatten() {
            if loc.as_ref().is_some_and(|l| l.executor_id == executor) {
                *loc = None;
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cluster::handle::Idle;

    #[test]
    fn outputs_on_a_lost_executor_are_missing() {
        let cluster = Arc::new(Cluster::default());
        let a = cluster.register("a:1".into(), 1, Arc::new(Idle), true);
        let b = cluster.register("b:1".into(), 1, Arc::new(Idle), true);
        let outputs = MapOutputs::default();
        let s = ShuffleId(1);
        assert_eq!(outputs.missing(s, 3, &cluster), [0, 1, 2]);
        for (map, exec) in [(0, &a), (1, &b), (2, &a)] {
            outputs.record(s, 3, MapLocation { map_id: map, executor_id: exec.to_string(), address: String::new() });
        }
        assert!(outputs.missing(s, 3, &cluster).is_empty());
        assert_eq!(outputs.complete(s, &cluster).unwrap().len(), 3);
        assert!(cluster.registered().any_but(a) && cluster.registered().any_but(spindle_proto::ids::ExecutorId(999)));
        cluster.declare_lost(&a, "killed");
        assert_eq!(outputs.missing(s, 3, &cluster), [0, 2]);
        assert!(outputs.complete(s, &cluster).is_none());
        let none = ShuffleId(2);
        assert!(outputs.missing(none, 0, &cluster).is_empty());
        assert_eq!(outputs.complete(none, &cluster).unwrap().len(), 0, "a shuffle with no map tasks is complete");
        assert_eq!(outputs.forget_executor(&b.to_string()), 1);
        assert_eq!(outputs.missing(s, 3, &cluster), [0, 1, 2]);
    }
}
