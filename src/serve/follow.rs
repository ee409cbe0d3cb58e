//! Following the served aliases (and `latest`) as other processes move them, and swapping the served
//! champion to another model URI ([`swap_to`], after a retrain or a rollback).

use super::{AppState, load};
use crate::store::ModelUri;
use std::sync::Arc;

/// Re-point the champion at a model URI (after a retrain or a rollback).
pub(super) fn swap_to(state: &AppState, uri: &str) -> anyhow::Result<()> {
    let store = state.store()?;
    let served = load(store.as_ref(), uri, state.opts.python.as_ref())?;
    eprintln!(
        "mlx serve: now serving {} ({})",
        served.uri,
        served.version_label()
    );
    state.champion.store(Arc::new(served));
    Ok(())
}

/// Follow aliases (and `latest`) moved by other processes: reload and swap when they point elsewhere. A
/// version that cannot be loaded leaves the served model in place and is reported once (not at every poll).
pub(super) async fn follow_aliases(state: Arc<AppState>) {
    // The bad version last reported, per served URI (not tried again: a Python model would start its
    // workers at every poll).
    let mut reported: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    loop {
        tokio::time::sleep(state.opts.poll_interval).await;
        let st = state.clone();
        let task = tokio::task::spawn_blocking(move || {
            let Ok(store) = st.store() else {
                return reported;
            };
            let variants = std::iter::once(&st.champion).chain(st.challenger.iter());
            for slot in variants {
                let current = slot.load_full();
                // Aliases and `latest` move; a version number or a run does not.
                let Ok(ModelUri::Version(moving)) = ModelUri::parse(&current.uri) else {
                    continue;
                };
                if matches!(moving.which, crate::store::Which::Number(_)) {
                    continue;
                }
                let Ok(v) = store.resolve_model_version(&moving) else {
                    continue;
                };
                if Some(v.version) == current.version
                    || reported.get(&current.uri) == Some(&v.version)
                {
                    continue;
                }
                // A reader that panics on a hostile file is a load that failed, reported once like any other.
                let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    load(store.as_ref(), &current.uri, st.opts.python.as_ref())
                }))
                .unwrap_or_else(|_| Err(anyhow::anyhow!("its model reader failed (a panic)")));
                match loaded {
                    Ok(served) => {
                        eprintln!(
                            "mlx serve: {} moved from v{} to v{}; swapped",
                            current.uri,
                            current.version.unwrap_or(0),
                            v.version
                        );
                        slot.store(Arc::new(served));
                    }
                    Err(e) => {
                        eprintln!(
                            "mlx serve: {} moved to v{} but it cannot be loaded; still serving {}: {}",
                            current.uri,
                            v.version,
                            current.version_label(),
                            format!("{e:#}").replace('\n', " ")
                        );
                        reported.insert(current.uri.clone(), v.version);
                    }
                }
            }
            reported
        });
        reported = task.await.unwrap_or_default();
    }
}
