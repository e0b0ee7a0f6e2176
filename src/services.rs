//! The application's services behind one state, and what a commit sets off.
//!
//! Services are siblings: each coordinates its own use cases over the shared
//! store, search and cache (`catalog`, `jobs`, `accounts`, `orders`,
//! `replication`). The API reaches them through [`Services`];
//! they never call the API, and the store never calls them.
//!
//! # What a commit sets off
//! [`CommitDispatch::on_commit`] is the one place: the store calls it on its
//! writer thread after every durable commit that changed something, before
//! any write of that commit is acknowledged. Its steps, in order, are the
//! whole list of side effects of a write.

use crate::accounts::Accounts;
use crate::cache::ResponseCache;
use crate::catalog::{self, Catalog, SearchFeed};
use crate::jobs::Jobs;
use crate::orders::Orders;
use crate::replication::Replication;
use crate::store::{Commit, CommitListener, Store};
use std::sync::Arc;

/// Every service; cheap to clone (handles).
#[derive(Clone)]
pub struct Services {
    pub catalog: Catalog,
    pub jobs: Jobs,
    pub accounts: Accounts,
    pub orders: Orders,
    pub replication: Replication,
}

impl Services {
    /// Wires the services over one store: from now on every commit goes
    /// through [`CommitDispatch`]. The job workers start separately
    /// ([`Jobs::start`]), on the async runtime.
    pub fn new(
        catalog: Catalog,
        jobs: Jobs,
        accounts: Accounts,
        orders: Orders,
        replication: Replication,
    ) -> Services {
        let dispatch = CommitDispatch {
            search: catalog.search_feed(),
            cache: catalog.cache_handle(),
            jobs: jobs.clone(),
            replication: replication.clone(),
        };
        catalog.store().set_commit_listener(Arc::new(dispatch));
        Services {
            catalog,
            jobs,
            accounts,
            orders,
            replication,
        }
    }

    pub fn store(&self) -> &Store {
        self.catalog.store()
    }
}

/// What a durable commit sets off (see the module docs).
pub struct CommitDispatch {
    search: SearchFeed,
    cache: Arc<ResponseCache>,
    jobs: Jobs,
    replication: Replication,
}

impl CommitListener for CommitDispatch {
    fn on_commit(&self, commit: &Commit) {
        let changes = &commit.changes;
        // 1. Search: new synonym groups apply to the next query; products
        //    whose documents changed are queued for the indexer, which makes
        //    them searchable within ~100–300 ms (search/mod.rs).
        if let Some(s) = &changes.search_settings.synonyms {
            self.search.synonyms_replaced(s);
        }
        self.search
            .changed(commit.generation, &changes.catalog.search_products);
        // 2. Response cache: every body showing something the commit changed
        //    stops being served. After step 1, so a recomputation sees the
        //    new synonyms.
        if changes.replaced {
            self.cache.invalidate_all();
        }
        self.cache.invalidate(catalog::cache_tags(changes));
        // 3. Jobs: queues that got new work wake their workers (which lease
        //    it in a write of their own, after this commit is durable).
        self.jobs.wake(&changes.jobs);
        // 4. Replication: the commit joins the leader's log for its
        //    followers (every commit, even one no reader-facing change set
        //    names), and requests waiting for its position
        //    (`X-Min-Generation`) go on. Last, so a follower that sees the
        //    position finds search and caches already told.
        self.replication.committed(commit);
        // Accounts set nothing off: revocation is read from the store on
        // every request (accounts/mod.rs). Orders set nothing off of their
        // own: their stock changes are catalogue changes (steps 1 and 2)
        // and their mail and notifications are jobs and rows of the same
        // commit (step 3).
    }
}
