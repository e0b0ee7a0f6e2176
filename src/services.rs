//! The platform, the services over it, and what a commit sets off.
//!
//! Built in this order (`startup` runs it; benchmarks and tests may too):
//! 1. [`Platform::open`]: the sinks a commit feeds — the search engine (not
//!    open yet), the response cache with the catalogue's kinds, the job
//!    queues' waker, replication's feed; none of them holds the store —
//!    then the store, opened with the [`CommitDispatch`] over them. Nothing
//!    is attached to the store later and nothing is detached at shutdown:
//!    the store holds the dispatch, the dispatch holds no store, so closing
//!    the store is immediate.
//! 2. [`Platform::open_search`]: the search index over the store (after any
//!    import, which it then indexes).
//! 3. [`Services::build`]: each service, given the platform's parts it uses
//!    and its section of the configuration.
//!
//! Services are siblings: each coordinates its own use cases over the shared
//! store, search and cache. The API reaches them through [`Services`]; they
//! never call the API, and the store never calls them.
//!
//! # What a commit sets off
//! [`CommitDispatch::committed`] is the one place: the store calls it on the
//! committing thread after every durable commit that changed something,
//! before any write of that commit is acknowledged. Its steps, in order,
//! are the whole list of side effects of a write.

use crate::accounts::Accounts;
use crate::cache::{Kinds, ResponseCache};
use crate::catalog::{self, CacheKinds, Catalog, StoreDocs};
use crate::config::Config;
use crate::jobs::{self, Jobs};
use crate::media::{self, MediaLibrary};
use crate::orders::{self, Orders};
use crate::replication::{self, Replication};
use crate::search::engine::Search;
use crate::store::db::faults::FaultPlan;
use crate::store::{Commit, CommitSink, Recovery, Store, StoreOptions, StoreResult};
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;

/// Storage, search and the response cache, and the commit sinks the store
/// was opened with. Cheap to clone.
#[derive(Clone)]
pub struct Platform {
    pub store: Store,
    pub search: Search,
    pub cache: Arc<ResponseCache>,
    /// The catalogue's kinds of cached bodies in `cache`.
    pub catalog_kinds: CacheKinds,
    /// Wakes the job queues' workers (fed by commits).
    pub jobs_waker: jobs::Waker,
    /// Replication's log and position (fed by commits).
    pub replication_feed: replication::Feed,
}

impl Platform {
    /// The sinks, then the store over `config`'s data dir with them (see the
    /// module docs); `faults` injects storage failures (tests).
    pub fn open(config: &Config, faults: Option<Arc<FaultPlan>>) -> StoreResult<Platform> {
        let search = Search::new();
        let mut kinds = Kinds::default();
        let catalog_kinds = CacheKinds::register(&mut kinds, &config.cache.ttls);
        let cache = Arc::new(ResponseCache::new(config.cache.bytes, kinds));
        let jobs_waker = jobs::Waker::new(&config.jobs);
        let replication_feed = replication::Feed::new(&config.replication);
        let dispatch = CommitDispatch {
            search: search.clone(),
            cache: cache.clone(),
            jobs: jobs_waker.clone(),
            replication: replication_feed.clone(),
        };
        let store = Store::open_with(
            &config.data.database(),
            StoreOptions {
                sink: Arc::new(dispatch),
                faults,
                checkpoint_every: config.storage.checkpoint_every,
                recovery: if config.storage.accept_log_loss {
                    Recovery::AcceptLoss
                } else {
                    Recovery::Strict
                },
            },
        )?;
        Ok(Platform {
            store,
            search,
            cache,
            catalog_kinds,
            jobs_waker,
            replication_feed,
        })
    }

    /// Opens the search index in `dir` over the store (a follower's
    /// indexing yields to its reads: background priority).
    pub fn open_search(&self, dir: &Path) -> catalog::CatalogResult<()> {
        let synonyms = self.store.read()?.search_settings().synonyms()?;
        self.search
            .open(
                dir,
                Arc::new(StoreDocs::new(self.store.clone())),
                self.store.is_read_only(),
                synonyms,
            )
            .map_err(catalog::CatalogError::Search)
    }
}

/// Every service; cheap to clone (handles).
#[derive(Clone)]
pub struct Services {
    pub catalog: Catalog,
    pub jobs: Jobs,
    pub accounts: Accounts,
    pub orders: Orders,
    pub replication: Replication,
    pub media: MediaLibrary,
}

impl Services {
    /// Every service over `platform`, each with its section of `config`.
    /// The job workers start separately ([`Jobs::start`]), on the async
    /// runtime.
    pub fn build(platform: &Platform, config: &Config) -> anyhow::Result<Services> {
        let store = &platform.store;
        let catalog = Catalog::new(
            store.clone(),
            platform.search.clone(),
            platform.cache.clone(),
            platform.catalog_kinds,
        );
        let replication = Replication::new(
            store.clone(),
            platform.replication_feed.clone(),
            config.replication.clone(),
            config.backups.clone(),
            &config.data,
        );
        let mailer = jobs::mail::Mailer::new(&config.mail).context("setting up mail")?;
        let mut jobs = Jobs::new(
            store.clone(),
            config.jobs.clone(),
            mailer,
            platform.jobs_waker.clone(),
        );
        if let Some((every, handler)) = replication.backup_job() {
            jobs = jobs.with_periodic(replication::backup::KIND_BACKUP, every, handler);
        }
        let expiry = orders::Expiry::default();
        jobs = jobs.with_periodic(
            orders::KIND_EXPIRE_UNPAID,
            orders::expiry_period(&config.orders.holds),
            expiry.handler(),
        );
        let media = open_media(store, config)?;
        let (variants, (gc_every, gc)) = media.handlers();
        jobs = jobs
            .with_handler(media::KIND_VARIANTS, variants)
            .with_periodic(media::KIND_GC, gc_every, gc);
        let accounts = Accounts::new(store.clone(), jobs.clone(), config.accounts.clone())
            .context("setting up accounts")?;
        let orders = Orders::new(store.clone(), jobs.clone(), config.orders.clone())
            .context("setting up orders")?;
        expiry.attach(&orders);
        Ok(Services {
            catalog,
            jobs,
            accounts,
            orders,
            replication,
            media,
        })
    }

    pub(crate) fn store(&self) -> &Store {
        self.catalog.store()
    }
}

/// The media service over `store` (a server's, or a tool's such as
/// `shopd import`: the variant jobs its uploads enqueue run when a server
/// starts on the data dir).
pub fn open_media(store: &Store, config: &Config) -> anyhow::Result<MediaLibrary> {
    let template = jobs::new_job(
        &config.jobs,
        crate::domain::job::MEDIA,
        media::KIND_VARIANTS,
        &serde_json::Value::Null,
    )?;
    MediaLibrary::new(store.clone(), config.media.clone(), template)
        .context("opening the image storage")
}

/// What a durable commit sets off (see the module docs). Holds no store.
pub(crate) struct CommitDispatch {
    search: Search,
    cache: Arc<ResponseCache>,
    jobs: jobs::Waker,
    replication: replication::Feed,
}

impl CommitSink for CommitDispatch {
    fn opened(&self, position: u64) {
        self.replication.opened(position);
    }

    fn synced(&self, position: u64) {
        // Followers may now have every commit up to `position`.
        self.replication.synced(position);
    }

    fn committed(&self, commit: &Commit) {
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
