//! Cargo features of the generated crate: one per group (tag), so a user of one resource
//! compiles only that part of a large API.
//!
//! A group's feature gates its module and its accessor on `Client`. A model is gated by the
//! features of the groups whose operations reach it, through parameters, bodies, responses,
//! event data and, transitively, fields, variants, aliases and newtypes: `#[cfg(any(feature =
//! "a", feature = "b"))]`. A model reached by every group, or by no operation at all (a schema
//! the document defines for its own sake, say a webhook payload), stays ungated, and so does
//! everything it reaches. That keeps one rule for correctness: a model's feature set always
//! contains the feature sets of the models that mention it, so whatever combination a user
//! picks, every type a compiled item names is compiled too.
//!
//! Documents with fewer than two groups get no features: there is nothing to leave out.

use crate::ir::{Api, BodyKind, ModelId, ModelKind, Operation, ResponseBody};

/// The features of a generated crate.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The feature of each group (same order as [`Api::groups`]).
    pub(crate) group_features: Vec<String>,
    /// Per model: `None` = always compiled, `Some(groups)` = compiled with any of these groups'
    /// features (indexes into `groups`, ascending, never all of them).
    pub(crate) model_groups: Vec<Option<Vec<usize>>>,
}

impl Plan {
    /// The `cfg` predicate for a set of groups: `feature = "a"`, or `any(feature = "a", …)`.
    pub(crate) fn cfg_predicate(&self, groups: &[usize]) -> String {
        let parts: Vec<String> = groups
            .iter()
            .map(|g| format!("feature = {:?}", self.group_features[*g]))
            .collect();
        match parts.as_slice() {
            [one] => one.clone(),
            _ => format!("any({})", parts.join(", ")),
        }
    }

    /// How many models only some features compile, per group.
    pub(crate) fn gated_models_of(&self, group: usize) -> usize {
        self.model_groups
            .iter()
            .filter(|g| g.as_ref().is_some_and(|g| g.contains(&group)))
            .count()
    }
}

/// The feature name of a group: its module's name (`r#type` → `type`). Cargo reserves
/// `default`, so the `default` group (operations without a tag) is `default-tag`; a clash
/// with another group's feature gets a numeric suffix.
fn feature_names(api: &Api) -> Vec<String> {
    let mut taken: Vec<String> = Vec::new();
    for g in &api.groups {
        let module = g.module.trim_start_matches("r#");
        let base = if module == "default" {
            "default-tag".to_string()
        } else {
            module.to_string()
        };
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        taken.push(name);
    }
    taken
}

/// The models an operation names directly (before following model fields).
fn operation_models(api: &Api, op: &Operation, out: &mut Vec<ModelId>) {
    for p in &op.params {
        p.ty.all_models(out);
    }
    if let Some(body) = &op.body {
        match &body.kind {
            BodyKind::Json(t) | BodyKind::Form { ty: t, .. } => t.all_models(out),
            BodyKind::Multipart { fields, .. } => {
                fields.iter().for_each(|f| f.ty.all_models(out));
            }
            BodyKind::Bytes | BodyKind::Text => {}
        }
    }
    for r in &op.responses {
        if let ResponseBody::Json(t) = &r.body {
            t.all_models(out);
        }
    }
    if let Some(Some(t)) = op.event_stream.as_ref().map(|e| e.data.as_ref()) {
        t.all_models(out);
    }
    if let Some(plan) = crate::paging::plan(api, op) {
        plan.item.all_models(out);
    }
}

/// The models a model's definition names.
fn model_children(api: &Api, id: ModelId, out: &mut Vec<ModelId>) {
    let Some(m) = api.models.get(id) else { return };
    match &m.kind {
        ModelKind::Struct { fields, additional } => {
            fields.iter().for_each(|f| f.ty.all_models(out));
            if let Some((_, t)) = additional {
                t.all_models(out);
            }
        }
        ModelKind::OneOf { variants, .. } => variants.iter().for_each(|v| v.ty.all_models(out)),
        ModelKind::Alias(t) | ModelKind::Newtype(t) => t.all_models(out),
        ModelKind::StringEnum { .. } => {}
    }
}

/// Marks `roots` and every model they reach in `reached` (each model is visited once).
fn propagate(api: &Api, roots: Vec<ModelId>, reached: &mut [bool]) {
    let mut stack = roots;
    while let Some(id) = stack.pop() {
        if id >= reached.len() || reached[id] {
            continue;
        }
        reached[id] = true;
        model_children(api, id, &mut stack);
    }
}

/// The features of `api`'s crate, or `None` when it has fewer than two groups.
pub(crate) fn plan(api: &Api) -> Option<Plan> {
    if api.groups.len() < 2 {
        return None;
    }
    let n = api.models.len();
    // reached[g][m]: group g's operations reach model m.
    let mut reached: Vec<Vec<bool>> = Vec::with_capacity(api.groups.len());
    for g in &api.groups {
        let mut roots = Vec::new();
        for op in &g.operations {
            operation_models(api, op, &mut roots);
        }
        let mut marks = vec![false; n];
        propagate(api, roots, &mut marks);
        reached.push(marks);
    }
    // Models no operation reaches are always compiled, and so is everything they name.
    let unreached: Vec<ModelId> = (0..n).filter(|m| reached.iter().all(|r| !r[*m])).collect();
    let mut always = vec![false; n];
    propagate(api, unreached, &mut always);
    let model_groups = (0..n)
        .map(|m| {
            let groups: Vec<usize> = (0..api.groups.len()).filter(|g| reached[*g][m]).collect();
            if always[m] || groups.len() == api.groups.len() {
                None
            } else {
                Some(groups)
            }
        })
        .collect();
    Some(Plan {
        group_features: feature_names(api),
        model_groups,
    })
}
