//! A contract's training set: features joined to labels on the entity, taking for
//! each label the feature row last true at or before the label's time.

use std::sync::Arc;

use cairn_data::ContractFolder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn point_in_time_joins_take_the_last_value_at_or_before_each_event() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("labels.csv"),
        "customer,at,churned\n\
         e1,2024-01-01T10:00:00,yes\n\
         e1,2024-01-01T12:00:00,no\n\
         e2,2024-01-01T11:00:00,yes\n\
         e3,2024-01-01T09:00:00,no\n\
         e4,2024-01-01T09:00:00,\n",
    )
    .unwrap();
    // e1 changes three times; e2 has a value exactly at its label's time and one
    // after; e3 only after; a plan view without times joins on the entity alone.
    std::fs::write(
        d.join("usage.csv"),
        "customer,at,minutes\n\
         e1,2024-01-01T09:00:00,1.0\n\
         e1,2024-01-01T11:00:00,2.0\n\
         e1,2024-01-01T13:00:00,3.0\n\
         e2,2024-01-01T11:00:00,5.0\n\
         e2,2024-01-01T11:30:00,6.0\n\
         e3,2024-01-01T10:00:00,7.0\n",
    )
    .unwrap();
    std::fs::write(
        d.join("plans.csv"),
        "customer,plan\ne1,gold\ne2,basic\ne3,gold\n",
    )
    .unwrap();
    std::fs::write(
        d.join("labels.yaml"),
        "view: labels\nsource: labels.csv\nentity: customer\nevent_timestamp: at\n\
         fields:\n  customer: {type: string}\n  at: {type: timestamp}\n  churned: {type: string}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("usage.yaml"),
        "view: usage\nsource: usage.csv\nentity: customer\nevent_timestamp: at\n\
         fields:\n  customer: {type: string}\n  at: {type: timestamp}\n  minutes: {type: float}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("plans.yaml"),
        "view: plans\nsource: plans.csv\nentity: customer\n\
         fields:\n  customer: {type: string, unique: true}\n  plan: {type: string}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("churn.yaml"),
        "contract: churn\nmodel: churn\nfeatures: [usage, plans.plan]\n\
         label: {field: labels.churned, task: classification}\n",
    )
    .unwrap();
    let folder = ContractFolder::open(d, Arc::new(())).unwrap();
    let state = folder.state();
    assert!(state.errors.is_empty(), "{:?}", state.errors);
    let out = d.join("set.csv");
    let set = cairn_data::training::write_training_set(&state, "churn", &out)
        .await
        .unwrap();
    assert_eq!(set.label, "churned");
    assert_eq!(set.features, ["minutes", "plan"]);
    assert_eq!(set.rows, 4, "the label row without a label is left out");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text, "minutes,plan,churned\n1.0,gold,yes\n2.0,gold,no\n5.0,basic,yes\n,gold,no\n",
        "e1 at 10:00 sees 09:00; at 12:00 sees 11:00; e2 sees the value at its own \
         time; e3 has none before its label"
    );
}
