//! The silence store against Alertmanager's rules: states at the window's edges,
//! matcher semantics, in-place updates versus replacements, expiry, validation,
//! persistence and garbage collection.

use voxscope_alert::eval::Labels;
use voxscope_alert::expr::Matcher;
use voxscope_alerting::silence::{
    DEFAULT_RETENTION_MS, Silence, SilenceError, SilenceState, SilenceStore, Silences,
};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn silence(matchers: Vec<Matcher>, start: i64, end: i64) -> Silence {
    let mut s = Silence::new(matchers, start, end);
    s.created_by = "oncall".into();
    s.comment = "maintenance".into();
    s
}

#[test]
fn a_silence_mutes_from_its_start_inclusive_to_its_end_exclusive() {
    let mut store = SilenceStore::new();
    let id = store.set(silence(vec![Matcher::eq("alertname", "A")], 1_000, 2_000), 0).unwrap();
    let a = labels(&[("alertname", "A")]);
    let s = store.get(&id).unwrap();
    assert_eq!(s.state(999), SilenceState::Pending);
    assert_eq!(s.state(1_000), SilenceState::Active);
    assert_eq!(s.state(1_999), SilenceState::Active);
    assert_eq!(s.state(2_000), SilenceState::Expired);
    assert!(store.silenced_by(&a, 999).is_empty());
    assert_eq!(store.silenced_by(&a, 1_000), vec![id.clone()]);
    assert_eq!(store.silenced_by(&a, 1_999), vec![id]);
    assert!(store.silenced_by(&a, 2_000).is_empty());
    assert_eq!(s.updated_at_ms, 0);
    assert_eq!((s.created_by.as_str(), s.comment.as_str()), ("oncall", "maintenance"));
}

#[test]
fn matchers_are_anchored_negatable_and_read_missing_labels_as_empty() {
    let mut store = SilenceStore::new();
    let id = store
        .set(
            silence(
                vec![
                    Matcher::re("alertname", "High.*Rate"),
                    Matcher::ne("severity", "critical"),
                    Matcher::not_re("transport", "twilio|plivo"),
                ],
                0,
                10_000,
            ),
            0,
        )
        .unwrap();
    let muted = |pairs: &[(&str, &str)]| store.silenced_by(&labels(pairs), 5_000) == [id.clone()];
    assert!(muted(&[("alertname", "HighErrorRate"), ("severity", "warning")]));
    // No severity and no transport label: "" != "critical" and "" !~ "twilio|plivo".
    assert!(muted(&[("alertname", "HighErrorRate")]));
    assert!(!muted(&[("alertname", "HighErrorRate"), ("severity", "critical")]));
    assert!(!muted(&[("alertname", "HighErrorRate"), ("transport", "plivo")]));
    // Anchored at both ends: neither a prefix nor a suffix match counts.
    assert!(!muted(&[("alertname", "XHighErrorRate")]));
    assert!(!muted(&[("alertname", "HighErrorRates")]));
    assert!(muted(&[("alertname", "HighErrorRate"), ("transport", "twilio2")]));
}

#[test]
fn several_silences_report_every_matching_id() {
    let mut store = SilenceStore::new();
    let a = store.set(silence(vec![Matcher::eq("job", "voice")], 0, 10_000), 0).unwrap();
    let b = store.set(silence(vec![Matcher::re("job", "voi.*")], 0, 10_000), 0).unwrap();
    store.set(silence(vec![Matcher::eq("job", "other")], 0, 10_000), 0).unwrap();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(store.silenced_by(&labels(&[("job", "voice")]), 1), expected);
    assert_eq!(store.len(), 3);
}

#[test]
fn a_start_in_the_past_becomes_now_and_ids_are_uuids() {
    let mut store = SilenceStore::new();
    let id = store.set(silence(vec![Matcher::eq("a", "b")], 0, 60_000), 5_000).unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(id.as_bytes()[14], b'4', "version 4 UUID: {id}");
    let s = store.get(&id).unwrap();
    assert_eq!((s.starts_at_ms, s.ends_at_ms, s.updated_at_ms), (5_000, 60_000, 5_000));
}

#[test]
fn updates_that_keep_history_stay_in_place_others_replace_the_silence() {
    let mut store = SilenceStore::new();
    let m = vec![Matcher::eq("alertname", "A")];
    // Active at 20 s: extending the end keeps the id.
    let id = store.set(silence(m.clone(), 10_000, 60_000), 10_000).unwrap();
    let mut update = store.get(&id).unwrap().clone();
    update.ends_at_ms = 90_000;
    update.comment = "longer".into();
    assert_eq!(store.set(update.clone(), 20_000).unwrap(), id);
    let s = store.get(&id).unwrap();
    assert_eq!((s.ends_at_ms, s.comment.as_str(), s.updated_at_ms), (90_000, "longer", 20_000));
    assert_eq!(store.len(), 1);

    // Moving an active silence's start rewrites history: the old one ends now, a new
    // one starts (clamped to now).
    update.starts_at_ms = 15_000;
    let replaced = store.set(update, 30_000).unwrap();
    assert_ne!(replaced, id);
    assert_eq!(store.get(&id).unwrap().ends_at_ms, 30_000);
    assert_eq!(store.get(&id).unwrap().state(30_000), SilenceState::Expired);
    let new = store.get(&replaced).unwrap();
    assert_eq!((new.starts_at_ms, new.ends_at_ms), (30_000, 90_000));

    // A pending silence may move its start, as long as it stays in the future.
    let pending = store.set(silence(m.clone(), 100_000, 200_000), 30_000).unwrap();
    let mut moved = store.get(&pending).unwrap().clone();
    moved.starts_at_ms = 120_000;
    assert_eq!(store.set(moved.clone(), 40_000).unwrap(), pending);
    assert_eq!(store.get(&pending).unwrap().starts_at_ms, 120_000);
    // ...but not into the past: replaced, the old pending one starts and ends now.
    moved.starts_at_ms = 35_000;
    let again = store.set(moved, 40_000).unwrap();
    assert_ne!(again, pending);
    let old = store.get(&pending).unwrap();
    assert_eq!((old.starts_at_ms, old.ends_at_ms), (40_000, 40_000));
    assert_eq!(store.get(&again).unwrap().starts_at_ms, 40_000);

    // Changing the matchers always replaces.
    let mut other = store.get(&again).unwrap().clone();
    other.matchers = vec![Matcher::eq("alertname", "B")];
    assert_ne!(store.set(other, 50_000).unwrap(), again);
}

#[test]
fn expire_ends_active_silences_now_and_pending_ones_before_they_start() {
    let mut store = SilenceStore::new();
    let m = vec![Matcher::eq("alertname", "A")];
    let active = store.set(silence(m.clone(), 0, 60_000), 0).unwrap();
    let pending = store.set(silence(m, 100_000, 200_000), 0).unwrap();
    store.expire(&active, 10_000).unwrap();
    store.expire(&pending, 10_000).unwrap();
    let a = store.get(&active).unwrap();
    assert_eq!((a.starts_at_ms, a.ends_at_ms, a.updated_at_ms), (0, 10_000, 10_000));
    let p = store.get(&pending).unwrap();
    assert_eq!((p.starts_at_ms, p.ends_at_ms), (10_000, 10_000));
    assert_eq!(p.state(10_000), SilenceState::Expired);
    // Idempotent, and the first expiry's end stays.
    store.expire(&active, 20_000).unwrap();
    assert_eq!(store.get(&active).unwrap().ends_at_ms, 10_000);
    assert_eq!(store.expire("nope", 0), Err(SilenceError::NotFound("nope".into())));
    // An expired silence cannot be updated back to life: a new one is made.
    let mut revived = store.get(&active).unwrap().clone();
    revived.ends_at_ms = 90_000;
    assert_ne!(store.set(revived, 20_000).unwrap(), active);
}

#[test]
fn silences_alertmanager_would_refuse_are_refused() {
    let mut store = SilenceStore::new();
    let ok = || vec![Matcher::eq("alertname", "A")];
    let refused = |store: &mut SilenceStore, s: Silence, now: i64| store.set(s, now).unwrap_err();
    assert_eq!(refused(&mut store, silence(vec![], 0, 10), 0), SilenceError::NoMatchers);
    assert_eq!(
        refused(&mut store, silence(vec![Matcher::re("a", ".*"), Matcher::eq("b", "")], 0, 10), 0),
        SilenceError::MatchesEverything
    );
    assert!(matches!(
        refused(&mut store, silence(vec![Matcher::re("a", "(")], 0, 10), 0),
        SilenceError::Regex { .. }
    ));
    assert_eq!(
        refused(&mut store, silence(vec![Matcher::eq("9a", "x")], 0, 10), 0),
        SilenceError::LabelName("9a".into())
    );
    assert_eq!(refused(&mut store, silence(ok(), 10, 10), 0), SilenceError::StartNotBeforeEnd);
    assert_eq!(refused(&mut store, silence(ok(), 0, 10), 11), SilenceError::EndInPast);
    let mut unknown = silence(ok(), 0, 10);
    unknown.id = "missing".into();
    assert_eq!(refused(&mut store, unknown, 0), SilenceError::NotFound("missing".into()));
    assert!(store.is_empty());

    let mut small = SilenceStore::with_limit(1);
    small.set(silence(ok(), 0, 10), 0).unwrap();
    assert_eq!(refused(&mut small, silence(ok(), 0, 10), 0), SilenceError::Full(1));
}

#[test]
fn the_limit_counts_live_silences_and_a_refusal_leaves_the_store_as_it_was() {
    let mut store = SilenceStore::with_limit(2);
    let a = store.set(silence(vec![Matcher::eq("alertname", "A")], 0, 100_000), 0).unwrap();
    let b = store.set(silence(vec![Matcher::eq("alertname", "B")], 0, 100_000), 0).unwrap();
    let c = silence(vec![Matcher::eq("alertname", "C")], 0, 100_000);
    assert_eq!(store.set(c.clone(), 1_000), Err(SilenceError::Full(2)));
    // Replacing one (new matchers) fits: the old one expires as the new one starts.
    let mut replace = store.get(&a).unwrap().clone();
    replace.matchers = vec![Matcher::eq("alertname", "A2")];
    let a2 = store.set(replace, 2_000).unwrap();
    assert_eq!(store.get(&a).unwrap().state(2_000), SilenceState::Expired);
    assert_eq!(store.len(), 3);
    // Full again: a refused replacement leaves the silence it would replace active.
    let mut refused = store.get(&b).unwrap().clone();
    refused.id = String::new();
    assert_eq!(store.set(refused, 3_000), Err(SilenceError::Full(2)));
    assert_eq!(store.get(&b).unwrap().state(3_000), SilenceState::Active);
    // Expiring one frees a place.
    store.expire(&a2, 4_000).unwrap();
    assert!(store.set(c, 4_000).is_ok());
}

#[test]
fn the_store_persists_as_json_and_restores_with_working_matchers() {
    let mut store = SilenceStore::new();
    let id = store
        .set(
            silence(vec![Matcher::re("alertname", "High.*"), Matcher::ne("env", "dev")], 0, 60_000),
            0,
        )
        .unwrap();
    let json = serde_json::to_value(&store).unwrap();
    assert_eq!(json[0]["id"], id.as_str());
    assert_eq!(
        json[0]["matchers"],
        serde_json::json!([
            {"name": "alertname", "value": "High.*", "isRegex": true, "isEqual": true},
            {"name": "env", "value": "dev", "isRegex": false, "isEqual": false},
        ])
    );
    assert_eq!(json[0]["endsAtMs"], 60_000);
    let restored: SilenceStore = serde_json::from_value(json).unwrap();
    assert_eq!(restored.get(&id), store.get(&id));
    assert_eq!(restored.silenced_by(&labels(&[("alertname", "HighLatency")]), 1), vec![id]);
    assert!(
        restored
            .silenced_by(&labels(&[("alertname", "HighLatency"), ("env", "dev")]), 1)
            .is_empty()
    );

    let broken = serde_json::json!([{
        "id": "x", "matchers": [{"name": "a", "value": "(", "isRegex": true}],
        "startsAtMs": 0, "endsAtMs": 1, "updatedAtMs": 0, "createdBy": "", "comment": ""
    }]);
    let err = serde_json::from_value::<SilenceStore>(broken).unwrap_err();
    assert!(err.to_string().contains("invalid regex"), "{err}");
}

#[test]
fn gc_drops_silences_expired_longer_than_the_retention() {
    let mut store = SilenceStore::new();
    let old = store.set(silence(vec![Matcher::eq("a", "b")], 0, 1_000), 0).unwrap();
    let recent = store.set(silence(vec![Matcher::eq("a", "b")], 0, 50_000), 0).unwrap();
    let live = store.set(silence(vec![Matcher::eq("a", "b")], 0, i64::MAX), 0).unwrap();
    let now = 1_000 + DEFAULT_RETENTION_MS;
    assert_eq!(store.gc(now, DEFAULT_RETENTION_MS), 1);
    assert!(store.get(&old).is_none());
    assert!(store.get(&recent).is_some() && store.get(&live).is_some());
}

#[test]
fn the_shared_handle_sees_changes_made_through_a_clone() {
    let silences = Silences::default();
    let api_side = silences.clone();
    let id = api_side.lock().set(silence(vec![Matcher::eq("a", "b")], 0, 10_000), 0).unwrap();
    assert_eq!(silences.silenced_by(&labels(&[("a", "b")]), 5), vec![id]);
}
