//! The pages over plain HTTP, on both backends: what they show, and how they answer
//! bad input (a status, a message naming the field, nothing changed).

mod common;

use cairn_core::entities::KeyValue;
use common::TestServer;

async fn get(s: &TestServer, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let r = reqwest::get(format!("{}{path}", s.url)).await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.text().await.unwrap(), headers)
}

async fn post(s: &TestServer, path: &str, form: &[(&str, &str)]) -> u16 {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}{path}", s.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Alias moves from the API and from the page are recorded in order, with removals
/// by alias deletion and by version deletion.
async fn alias_history_is_kept(s: TestServer) {
    let c = &s.client;
    let exp = c.create_experiment("e", &[]).await.unwrap();
    let run = c.create_run(&exp, Some("r"), None, &[]).await.unwrap();
    c.create_registered_model("my model", None, &[])
        .await
        .unwrap();
    for _ in 0..3 {
        c.create_model_version(
            "my model",
            &format!("{}/model", run.info.artifact_uri),
            Some(&run.info.run_id),
        )
        .await
        .unwrap();
    }
    c.set_registered_model_alias("my model", "champion", "1")
        .await
        .unwrap();
    // Setting it where it already points is not a move.
    c.set_registered_model_alias("my model", "champion", "1")
        .await
        .unwrap();
    assert_eq!(
        post(
            &s,
            "/registry/my%20model/aliases",
            &[("alias", "champion"), ("version", "2")]
        )
        .await,
        303
    );
    c.set_registered_model_alias("my model", "challenger", "3")
        .await
        .unwrap();
    c.delete_model_version("my model", "3").await.unwrap();
    assert_eq!(
        post(
            &s,
            "/registry/my%20model/aliases/delete",
            &[("alias", "champion")]
        )
        .await,
        303
    );
    // A bad alias is refused with MLflow's message, and nothing moves.
    assert_eq!(
        post(
            &s,
            "/registry/my%20model/aliases",
            &[("alias", "bad alias"), ("version", "1")]
        )
        .await,
        400
    );
    assert_eq!(
        post(&s, "/registry/my%20model/aliases", &[("alias", "x")]).await,
        400
    );

    let (status, html, _) = get(&s, "/registry/my%20model").await;
    assert_eq!(status, 200);
    let history = &html[html.find("alias-history").expect("a history table")..];
    let order: Vec<usize> = [
        "removed from v2",
        "removed from v3",
        "set to v3",
        "moved v1 → v2",
        "set to v1",
    ]
    .iter()
    .map(|t| {
        history
            .find(t)
            .unwrap_or_else(|| panic!("{t} in {history}"))
    })
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "newest first: {order:?}"
    );
    assert_eq!(history.matches("set to v1").count(), 1);

    // A renamed model keeps its history; a deleted one takes it along.
    c.rename_registered_model("my model", "m2").await.unwrap();
    let (_, html, _) = get(&s, "/registry/m2").await;
    assert!(html.contains("moved v1 → v2"));
    c.delete_registered_model("m2").await.unwrap();
    c.create_registered_model("m2", None, &[]).await.unwrap();
    let (_, html, _) = get(&s, "/registry/m2").await;
    assert!(html.contains("No alias has been set yet."));
}

#[tokio::test]
async fn alias_history_on_sqlite() {
    alias_history_is_kept(TestServer::spawn().await).await;
}

#[tokio::test]
async fn alias_history_on_postgres() {
    if let Some(s) = TestServer::spawn_postgres("alias_history_on_postgres").await {
        alias_history_is_kept(s).await;
    }
}

#[tokio::test]
async fn bad_input_gets_a_status_and_a_message_that_names_it() {
    let s = TestServer::spawn().await;
    let exp = s.client.create_experiment("e", &[]).await.unwrap();
    s.client
        .create_run(&exp, Some("r"), None, &[])
        .await
        .unwrap();

    // A wrong filter: 400, the grammar's message, the token marked, the box kept.
    let (status, html, _) = get(
        &s,
        &format!("/experiments/{exp}?filter=metrics.acc+%3E%3E+1"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("filter-error"), "{html}");
    assert!(html.contains("<mark>&gt;"), "the token is marked: {html}");
    assert!(html.contains("value=\"metrics.acc &gt;&gt; 1\""));
    // An unknown attribute is pointed at its clause.
    let (status, html, _) = get(
        &s,
        &format!("/experiments/{exp}?filter=attributes.nope+%3D+%27x%27"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        html.contains("Invalid attribute key 'nope'")
            && html.contains("<mark>attributes.nope</mark>"),
        "{html}"
    );

    let (status, html, _) = get(&s, &format!("/experiments/{exp}?per=0")).await;
    assert_eq!(status, 400);
    assert!(
        html.contains("&#39;per&#39;") || html.contains("'per'"),
        "{html}"
    );
    let (status, _, _) = get(&s, "/experiments/9999").await;
    assert_eq!(status, 404);
    let (status, html, _) = get(&s, "/compare").await;
    assert_eq!(status, 400);
    assert!(html.contains("run"), "{html}");
    let (status, _, _) = get(&s, "/runs/0123456789abcdef0123456789abcdef").await;
    assert_eq!(status, 404);
    let (status, _, _) = get(&s, "/runs/x/artifact").await;
    assert_eq!(status, 404);

    // Experiments: a duplicate name is refused and the list is unchanged.
    assert_eq!(post(&s, "/experiments/create", &[("name", "e")]).await, 400);
    assert_eq!(post(&s, "/experiments/create", &[]).await, 400);
    assert_eq!(post(&s, "/experiments/create", &[("name", "f")]).await, 303);
    let (_, html, _) = get(&s, "/experiments?q=f").await;
    assert!(
        html.contains(">f</a>") && !html.contains(">e</a>"),
        "{html}"
    );
    assert_eq!(
        post(&s, "/runs/lifecycle", &[("action", "delete")]).await,
        400
    );
}

#[tokio::test]
async fn artifacts_are_previewed_and_served_sandboxed() {
    let s = TestServer::spawn().await;
    let c = &s.client;
    let exp = c.create_experiment("e", &[]).await.unwrap();
    let run = c
        .create_run(&exp, Some("r"), None, &[KeyValue::new("k", "v")])
        .await
        .unwrap();
    let id = &run.info.run_id;
    let root = run
        .info
        .artifact_uri
        .strip_prefix("mlflow-artifacts:/")
        .unwrap();
    let svg = "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
    c.upload_artifact(&format!("{root}/plots/p.svg"), svg)
        .await
        .unwrap();
    c.upload_artifact(&format!("{root}/model/MLmodel"), "flavors:\n  cairn: {}\n")
        .await
        .unwrap();
    c.upload_artifact(&format!("{root}/r.json"), "{\"a\":[1,2]}")
        .await
        .unwrap();

    let (status, html, _) = get(&s, &format!("/runs/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("plots/") && html.contains("r.json"), "{html}");
    let (_, html, _) = get(
        &s,
        &format!("/runs/{id}/artifacts?path=model&file=model/MLmodel"),
    )
    .await;
    assert!(html.contains("cairn: {}"), "{html}");
    let (_, html, _) = get(&s, &format!("/runs/{id}/artifacts?file=r.json")).await;
    assert!(html.contains("&quot;a&quot;: ["), "pretty JSON: {html}");
    let (_, html, _) = get(
        &s,
        &format!("/runs/{id}/artifacts?path=plots&file=plots/p.svg"),
    )
    .await;
    assert!(html.contains("<img class=\"artifact\""), "{html}");
    let (status, body, headers) = get(&s, &format!("/runs/{id}/artifact?path=plots/p.svg")).await;
    assert_eq!(status, 200);
    assert_eq!(body, svg);
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert_eq!(headers["content-security-policy"], "sandbox");
    let (status, _, _) = get(&s, &format!("/runs/{id}/artifact?path=../../etc/passwd")).await;
    assert_eq!(status, 400);
    let (status, _, _) = get(&s, &format!("/runs/{id}/artifact?path=missing.txt")).await;
    assert_eq!(status, 404);
}
