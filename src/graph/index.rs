//! The lineage index: the walkable edges, in memory, kept in step with the store.
//!
//! A walk over the database pays a round trip and an index scan per hop; the same walk over an
//! adjacency map in memory costs microseconds. The index holds only what walks need: the
//! [`Link`]s of the kinds they follow ([`INDEXED`]), about 16 bytes each way. Node and edge
//! details stay in the database and are loaded for the answer alone.
//!
//! Correctness comes from the store's change feed ([`LinkFeed`]), not from our own writes: other
//! replicas and other processes (`headwater import`) write to the same database. Before a walk,
//! [`LineageIndex::catch_up`] reads every link committed since the last look, in one query, so
//! an answer reflects at least everything committed before the request arrived, as a query
//! against the database itself would. Concurrent requests share one catch-up. Deletions (a
//! prune) move the store's epoch, and the next catch-up reloads the whole index.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use super::{Step, Topology};
use crate::error::Result;
use crate::model::{EdgeKind, Link, NodeId};

/// The edge kinds walks follow: dataset lineage, column derivations, and what shapes a dataset.
pub const INDEXED: [EdgeKind; 4] = [
    EdgeKind::Input,
    EdgeKind::Output,
    EdgeKind::Derives,
    EdgeKind::Affects,
];

/// Links of the indexed kinds a store committed since a position in its change feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkChanges {
    /// Where to read on from next time. Its meaning is the backend's own.
    pub position: i64,
    /// Moves whenever links are deleted; a changed epoch means the index must be reloaded.
    pub epoch: i64,
    /// The links. Some may have been reported before; adding a link twice is harmless.
    pub links: Vec<Link>,
}

/// A store's change feed of walkable links.
#[async_trait]
pub trait LinkFeed: Send + Sync {
    /// Every stored link of the [`INDEXED`] kinds (`since` is `None`), or those committed since
    /// the position of an earlier answer, with the position to read on from.
    async fn link_changes(&self, since: Option<i64>) -> Result<LinkChanges>;
}

/// How big the index is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexSize {
    /// Nodes with at least one link.
    pub nodes: usize,
    /// Links held.
    pub links: usize,
}

/// Neighbours of one node: the far end and the kind of each link.
type Neighbours = Vec<(NodeId, EdgeKind)>;

/// Both directions of every link, by node.
#[derive(Debug, Default)]
struct Adjacency {
    out: HashMap<NodeId, Neighbours>,
    inc: HashMap<NodeId, Neighbours>,
    links: usize,
}

impl Adjacency {
    /// Builds the map from a full load, trimming the spare capacity growth left behind.
    fn of(links: &[Link]) -> Self {
        let mut map = Adjacency::default();
        map.extend(links);
        map.out.values_mut().for_each(Vec::shrink_to_fit);
        map.inc.values_mut().for_each(Vec::shrink_to_fit);
        map
    }

    fn extend(&mut self, links: &[Link]) {
        for link in links {
            self.insert(*link);
        }
    }

    fn insert(&mut self, link: Link) {
        let out = self.out.entry(link.source).or_default();
        if out.contains(&(link.target, link.kind)) {
            return;
        }
        out.push((link.target, link.kind));
        let inc = self.inc.entry(link.target).or_default();
        inc.push((link.source, link.kind));
        self.links += 1;
    }

    fn links(&self, frontier: &[NodeId], kinds: &[EdgeKind], step: Step) -> Vec<Link> {
        let (map, link): (_, fn(NodeId, NodeId, EdgeKind) -> Link) = match step {
            Step::Forward => (&self.out, |from, to, kind| Link {
                source: from,
                kind,
                target: to,
            }),
            Step::Backward => (&self.inc, |from, to, kind| Link {
                source: to,
                kind,
                target: from,
            }),
        };
        let mut found = Vec::new();
        for &node in frontier {
            let Some(neighbours) = map.get(&node) else {
                continue;
            };
            let kept = neighbours.iter().filter(|(_, kind)| kinds.contains(kind));
            found.extend(kept.map(|&(far, kind)| link(node, far, kind)));
        }
        found
    }

    fn size(&self) -> IndexSize {
        let mut nodes: Vec<NodeId> = self.out.keys().chain(self.inc.keys()).copied().collect();
        nodes.sort_unstable();
        nodes.dedup();
        IndexSize {
            nodes: nodes.len(),
            links: self.links,
        }
    }
}

/// Where the index stands in the store's change feed.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    position: i64,
    epoch: i64,
}

/// What a catch-up did, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// A refresh that began after the caller arrived had already done the work.
    Shared,
    /// New links were added to what the index held.
    Delta(usize),
    /// The whole index was loaded again (first use, or after a deletion).
    Full(usize),
}

/// The walkable edges of a store, in memory.
pub struct LineageIndex {
    feed: Arc<dyn LinkFeed>,
    graph: RwLock<Adjacency>,
    /// Held while catching up; `None` until the first full load.
    cursor: tokio::sync::Mutex<Option<Cursor>>,
    /// Catch-ups begun and finished, numbered: how concurrent callers share one.
    begun: AtomicU64,
    finished: AtomicU64,
}

impl std::fmt::Debug for LineageIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineageIndex")
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl LineageIndex {
    /// An empty index over a feed; the first catch-up loads it.
    pub fn new(feed: Arc<dyn LinkFeed>) -> Self {
        LineageIndex {
            feed,
            graph: RwLock::new(Adjacency::default()),
            cursor: tokio::sync::Mutex::new(None),
            begun: AtomicU64::new(0),
            finished: AtomicU64::new(0),
        }
    }

    /// Brings the index up to date with everything the store committed before this call.
    ///
    /// Callers that arrive while a catch-up runs wait for it and then for one more, unless
    /// one that began after they arrived has finished meanwhile: its snapshot already holds
    /// everything they need, so a burst of queries costs one feed query, not one each.
    pub async fn catch_up(&self) -> Result<Refresh> {
        let arrived = self.begun.load(Ordering::SeqCst);
        let mut cursor = self.cursor.lock().await;
        if self.finished.load(Ordering::SeqCst) > arrived {
            return Ok(Refresh::Shared);
        }
        let number = self.begun.fetch_add(1, Ordering::SeqCst) + 1;
        let refresh = self.read_feed(&mut cursor).await?;
        self.finished.store(number, Ordering::SeqCst);
        Ok(refresh)
    }

    async fn read_feed(&self, cursor: &mut Option<Cursor>) -> Result<Refresh> {
        if let Some(at) = *cursor {
            let changes = self.feed.link_changes(Some(at.position)).await?;
            if changes.epoch == at.epoch {
                let added = changes.links.len();
                self.write().extend(&changes.links);
                *cursor = Some(Cursor {
                    position: changes.position,
                    epoch: changes.epoch,
                });
                return Ok(Refresh::Delta(added));
            }
        }
        let all = self.feed.link_changes(None).await?;
        let loaded = all.links.len();
        *self.write() = Adjacency::of(&all.links);
        *cursor = Some(Cursor {
            position: all.position,
            epoch: all.epoch,
        });
        Ok(Refresh::Full(loaded))
    }

    /// How many nodes and links the index holds.
    pub fn size(&self) -> IndexSize {
        self.read().size()
    }

    /// Walks on the index for the kinds it holds, on `fallback` for any others.
    pub fn topology<'a>(&'a self, fallback: &'a dyn Topology) -> Indexed<'a> {
        Indexed {
            index: Some(self),
            fallback,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Adjacency> {
        // A panic while holding the lock leaves no half-written link: insert is one push pair,
        // and a reload swaps the whole map. So the map is still usable.
        self.graph.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Adjacency> {
        self.graph.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps the index warm in the background, so a query after a long quiet ingest doesn't pay
/// for reading everything the ingest wrote. Failures (the database is down) are logged and
/// retried on the next tick; queries catch up for themselves anyway.
pub fn keep_fresh(index: Arc<LineageIndex>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match index.catch_up().await {
                Ok(Refresh::Full(links)) => tracing::info!(links, "lineage index loaded"),
                Ok(_) => {}
                Err(err) => tracing::debug!(error = %err, "lineage index refresh failed"),
            }
        }
    })
}

/// A topology that answers from the index where it can.
#[derive(Clone, Copy)]
pub struct Indexed<'a> {
    index: Option<&'a LineageIndex>,
    fallback: &'a dyn Topology,
}

impl<'a> Indexed<'a> {
    /// Every step on `fallback`: the index is switched off.
    pub fn without_index(fallback: &'a dyn Topology) -> Self {
        Indexed {
            index: None,
            fallback,
        }
    }
}

#[async_trait]
impl Topology for Indexed<'_> {
    async fn links(
        &self,
        frontier: &[NodeId],
        kinds: &[EdgeKind],
        step: Step,
    ) -> Result<Vec<Link>> {
        let Some(index) = self.index else {
            return self.fallback.links(frontier, kinds, step).await;
        };
        let (held, other): (Vec<EdgeKind>, Vec<EdgeKind>) =
            kinds.iter().partition(|k| INDEXED.contains(k));
        let mut found = index.read().links(frontier, &held, step);
        if !other.is_empty() {
            found.extend(self.fallback.links(frontier, &other, step).await?);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn link(source: NodeId, kind: EdgeKind, target: NodeId) -> Link {
        Link {
            source,
            kind,
            target,
        }
    }

    /// A feed over a list of commits, each a batch of links; `deleted` moves the epoch.
    #[derive(Default)]
    struct Feed {
        commits: Mutex<Vec<Vec<Link>>>,
        epoch: Mutex<i64>,
        reads: AtomicU64,
    }

    impl Feed {
        fn commit(&self, links: Vec<Link>) {
            self.commits.lock().unwrap().push(links);
        }

        fn delete(&self, gone: Link) {
            for commit in self.commits.lock().unwrap().iter_mut() {
                commit.retain(|l| *l != gone);
            }
            *self.epoch.lock().unwrap() += 1;
        }
    }

    #[async_trait]
    impl LinkFeed for Feed {
        async fn link_changes(&self, since: Option<i64>) -> Result<LinkChanges> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let changes = {
                let commits = self.commits.lock().unwrap();
                let from = since.unwrap_or(0) as usize;
                LinkChanges {
                    position: commits.len() as i64,
                    epoch: *self.epoch.lock().unwrap(),
                    links: commits[from..].iter().flatten().copied().collect(),
                }
            };
            // A database answers later: let other callers arrive meanwhile.
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(changes)
        }
    }

    /// Links from the store fallback: a kind the index doesn't hold.
    struct Store;

    #[async_trait]
    impl Topology for Store {
        async fn links(&self, frontier: &[NodeId], _: &[EdgeKind], _: Step) -> Result<Vec<Link>> {
            Ok(frontier
                .iter()
                .map(|n| link(*n, EdgeKind::RunOf, 999))
                .collect())
        }
    }

    #[tokio::test]
    async fn catch_up_adds_what_was_committed_since_and_never_doubles_a_link() {
        let feed = Arc::new(Feed::default());
        feed.commit(vec![link(1, EdgeKind::Input, 100)]);
        let index = LineageIndex::new(feed.clone());
        assert_eq!(index.catch_up().await.unwrap(), Refresh::Full(1));
        feed.commit(vec![
            link(100, EdgeKind::Output, 2),
            link(1, EdgeKind::Input, 100),
        ]);
        assert_eq!(index.catch_up().await.unwrap(), Refresh::Delta(2));
        assert_eq!(index.size(), IndexSize { nodes: 3, links: 2 });
        let down = index.read().links(&[100], &INDEXED, Step::Forward);
        assert_eq!(down, vec![link(100, EdgeKind::Output, 2)]);
        let up = index.read().links(&[100], &INDEXED, Step::Backward);
        assert_eq!(up, vec![link(1, EdgeKind::Input, 100)]);
    }

    #[tokio::test]
    async fn a_deletion_reloads_the_whole_index() {
        let feed = Arc::new(Feed::default());
        feed.commit(vec![
            link(1, EdgeKind::Input, 100),
            link(100, EdgeKind::Output, 2),
        ]);
        let index = LineageIndex::new(feed.clone());
        index.catch_up().await.unwrap();
        feed.delete(link(100, EdgeKind::Output, 2));
        assert_eq!(index.catch_up().await.unwrap(), Refresh::Full(1));
        assert!(
            index
                .read()
                .links(&[100], &INDEXED, Step::Forward)
                .is_empty()
        );
    }

    #[tokio::test]
    async fn kinds_the_index_does_not_hold_come_from_the_fallback() {
        let feed = Arc::new(Feed::default());
        feed.commit(vec![link(1, EdgeKind::Input, 100)]);
        let index = LineageIndex::new(feed);
        index.catch_up().await.unwrap();
        let walked = index.topology(&Store);
        let kinds = [EdgeKind::Input, EdgeKind::RunOf];
        let mut found = walked.links(&[1], &kinds, Step::Forward).await.unwrap();
        found.sort();
        assert_eq!(
            found,
            vec![link(1, EdgeKind::Input, 100), link(1, EdgeKind::RunOf, 999)]
        );
        let only_index = walked
            .links(&[1], &[EdgeKind::Input], Step::Forward)
            .await
            .unwrap();
        assert_eq!(only_index, vec![link(1, EdgeKind::Input, 100)]);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_feed_read() {
        let feed = Arc::new(Feed::default());
        let index = Arc::new(LineageIndex::new(feed.clone()));
        index.catch_up().await.unwrap();
        let before = feed.reads.load(Ordering::SeqCst);
        let callers: Vec<_> = (0..16)
            .map(|_| {
                let index = Arc::clone(&index);
                tokio::spawn(async move { index.catch_up().await.unwrap() })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
        let reads = feed.reads.load(Ordering::SeqCst) - before;
        assert!(
            (1..16).contains(&reads),
            "{reads} feed reads for 16 callers"
        );
    }
}
