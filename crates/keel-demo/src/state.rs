//! Shared server state: the item store, the fault arrival counters and the
//! OpenAPI document served at `/openapi.json`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// An item of the demo store, as returned by the `/items` endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Identifier assigned by the server.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Price, in any currency you like.
    pub price: f64,
    /// Free-form tags (empty when none were given).
    pub tags: Vec<String>,
}

/// The body of `POST /items` and `PUT /items/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewItem {
    /// Display name (must not be empty).
    pub name: String,
    /// Price (must be a finite number, zero or more).
    pub price: f64,
    /// Optional free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// What the fault endpoints have seen for one fault key; the body of
/// `GET /fault/arrivals`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrivals {
    /// The fault key these counters belong to.
    pub key: String,
    /// How many requests arrived under `/fault/` with this key (the
    /// `/fault/arrivals` and `/fault/reset` requests themselves excluded).
    pub arrivals: u64,
    /// The `Idempotency-Key` header values seen, in order of arrival, one
    /// entry per request that carried one.
    pub idempotency_keys: Vec<String>,
    /// Arrivals counted per `Idempotency-Key` header value.
    pub by_idempotency_key: BTreeMap<String, u64>,
}

#[derive(Debug)]
struct Store {
    items: BTreeMap<u64, Item>,
    next_id: u64,
}

#[derive(Debug)]
struct Inner {
    store: Mutex<Store>,
    faults: Mutex<HashMap<String, Arrivals>>,
    openapi_extension: Option<serde_json::Value>,
    tls: bool,
    sdk: crate::sdk::SdkState,
}

/// The state shared by every handler of the demo router: the in-memory item
/// store and the per-key fault counters.
///
/// Cloning is cheap (an `Arc` inside); clones share everything. Keep a clone
/// to inspect arrival counters without going through HTTP:
///
/// ```
/// let state = keel_demo::DemoState::new();
/// let router = keel_demo::router(state.clone());
/// # let _ = router;
/// assert_eq!(state.arrivals("my-test").arrivals, 0);
/// ```
#[derive(Debug, Clone)]
pub struct DemoState {
    inner: Arc<Inner>,
}

impl Default for DemoState {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these plain maps in a
    // state worse than "partly updated", so poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DemoState {
    /// A fresh state with the seeded items (ids 1, 2 and 3) and no arrivals.
    pub fn new() -> Self {
        Self::build(None, false)
    }

    pub(crate) fn build(openapi_extension: Option<serde_json::Value>, tls: bool) -> Self {
        let seed = [
            ("widget", 9.99, vec!["tools"]),
            ("gadget", 24.5, vec!["tools", "electronics"]),
            ("gizmo", 3.0, vec![]),
        ];
        let mut items = BTreeMap::new();
        for (i, (name, price, tags)) in seed.into_iter().enumerate() {
            let id = i as u64 + 1;
            items.insert(
                id,
                Item {
                    id,
                    name: name.to_owned(),
                    price,
                    tags: tags.into_iter().map(str::to_owned).collect(),
                },
            );
        }
        let next_id = items.len() as u64 + 1;
        Self {
            inner: Arc::new(Inner {
                store: Mutex::new(Store { items, next_id }),
                faults: Mutex::new(HashMap::new()),
                openapi_extension,
                tls,
                sdk: crate::sdk::SdkState::default(),
            }),
        }
    }

    /// The arrival counters of one fault key (all zero when never seen).
    pub fn arrivals(&self, key: &str) -> Arrivals {
        lock(&self.inner.faults)
            .get(key)
            .cloned()
            .unwrap_or_else(|| Arrivals {
                key: key.to_owned(),
                ..Arrivals::default()
            })
    }

    /// Forget everything recorded for one fault key.
    pub fn reset_faults(&self, key: &str) {
        lock(&self.inner.faults).remove(key);
    }

    /// Record one arrival for `key` (and `idempotency_key` if any) and
    /// return the 1-based arrival number for the key.
    pub(crate) fn arrive(&self, key: &str, idempotency_key: Option<&str>) -> u64 {
        let mut faults = lock(&self.inner.faults);
        let entry = faults.entry(key.to_owned()).or_insert_with(|| Arrivals {
            key: key.to_owned(),
            ..Arrivals::default()
        });
        entry.arrivals += 1;
        if let Some(ik) = idempotency_key {
            entry.idempotency_keys.push(ik.to_owned());
            *entry.by_idempotency_key.entry(ik.to_owned()).or_insert(0) += 1;
        }
        entry.arrivals
    }

    /// All items, in id order, at most `limit` of them.
    pub fn list_items(&self, limit: Option<usize>) -> Vec<Item> {
        let store = lock(&self.inner.store);
        store
            .items
            .values()
            .take(limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// One item by id.
    pub fn get_item(&self, id: u64) -> Option<Item> {
        lock(&self.inner.store).items.get(&id).cloned()
    }

    /// Store a new item and return it with its assigned id.
    pub fn create_item(&self, new: NewItem) -> Item {
        let mut store = lock(&self.inner.store);
        let id = store.next_id;
        store.next_id += 1;
        let item = Item {
            id,
            name: new.name,
            price: new.price,
            tags: new.tags,
        };
        store.items.insert(id, item.clone());
        item
    }

    /// Replace an existing item; `None` when there is no such item.
    pub fn update_item(&self, id: u64, new: NewItem) -> Option<Item> {
        let mut store = lock(&self.inner.store);
        let slot = store.items.get_mut(&id)?;
        *slot = Item {
            id,
            name: new.name,
            price: new.price,
            tags: new.tags,
        };
        Some(slot.clone())
    }

    /// Remove an item; `false` when there was no such item.
    pub fn delete_item(&self, id: u64) -> bool {
        lock(&self.inner.store).items.remove(&id).is_some()
    }

    pub(crate) fn openapi_extension(&self) -> Option<&serde_json::Value> {
        self.inner.openapi_extension.as_ref()
    }

    pub(crate) fn sdk(&self) -> &crate::sdk::SdkState {
        &self.inner.sdk
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.inner.tls
    }
}
