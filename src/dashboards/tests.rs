use std::path::Path;

use super::*;
use crate::domain::DEFAULT_TIME_ZONE;

fn errors(text: &str) -> Vec<String> {
    match parse(
        text,
        Path::new("dashboards/x.toml"),
        &Rules::zone(DEFAULT_TIME_ZONE),
    ) {
        Ok(_) => Vec::new(),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    }
}

/// The rules of a server with the shipped boundary sets.
fn shipped_rules() -> Rules {
    Rules {
        zone: DEFAULT_TIME_ZONE,
        boundary_sets: Some(
            crate::geo::Catalog::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("static/geo"))
                .names(),
        ),
    }
}

const HEAD: &str = r#"title = { id = "Uji", en = "Test" }
audience = "board"
"#;

fn panel(body: &str) -> String {
    format!("{HEAD}\n[[panels]]\nid = \"p\"\ntitle = {{ id = \"P\", en = \"P\" }}\n{body}")
}

#[test]
fn the_shipped_dashboards_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let problems = check_dir(&dir, &shipped_rules());
    assert!(problems.is_empty(), "{problems:#?}");
    let catalog = Catalog::open(&dir, shipped_rules());
    let ids: Vec<String> = catalog.dashboards().into_keys().collect();
    assert_eq!(
        ids,
        [
            "budget-absorption",
            "kota-pasuruan-peta",
            "kota-pasuruan-wall",
            "la-311",
            "leadership-kpi",
            "overview",
            "service-levels"
        ]
    );
    let wall = catalog.get("kota-pasuruan-wall").unwrap();
    assert_eq!(wall.layout.unwrap().screens, 2);
    let la = catalog.get("la-311").unwrap();
    assert_eq!(la.time_zone, chrono_tz::America::Los_Angeles);
    assert_eq!(la.fiscal_year_start, 7);
}

#[test]
fn an_unknown_field_is_placed_at_its_line_and_column() {
    let text = panel(
        "kind = \"kpi\"\nquery.dataset = \"complaints\"\nquery.measures = [{ id = \"n\", fn = \"sum\", of = \"ratting\" }]\n",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    // Line 9 of the file; the value starts at column 48.
    assert!(
        e[0].starts_with("dashboards/x.toml:9:48: unknown field `ratting` of complaints"),
        "{}",
        e[0]
    );
}

#[test]
fn syntax_and_shape_errors_carry_positions() {
    let e = errors("title = { id = \"a\", en = \"b\" }\naudience = \"board\"\npanels = [\n");
    assert!(e[0].starts_with("dashboards/x.toml:3:"), "{e:?}");
    let e = errors(&panel("kind = \"kpi\"\nquery.dataset = \"complaints\"\nquery.measures = [{ id = \"n\", fn = \"count\" }]\ncolour = \"red\"\n"));
    assert!(e[0].contains("unknown field `colour`"), "{e:?}");
    assert!(e[0].starts_with("dashboards/x.toml:10:1:"), "{e:?}");
}

#[test]
fn measures_must_fit_their_field_types_and_datasets() {
    let cases = [
        ("query.dataset = \"complaints\"\nquery.measures = [{ id = \"n\", fn = \"avg\", of = \"category\" }]", "cannot take `category`"),
        ("query.dataset = \"complaints\"\nquery.measures = [{ id = \"n\", fn = \"serapan\" }]", "is a budget_lines measure"),
        ("query.dataset = \"budget_lines\"\nquery.measures = [{ id = \"n\", fn = \"sla_breached\" }]", "SLA measures need complaints"),
        ("query.dataset = \"budget_lines\"\nquery.measures = [{ id = \"n\", fn = \"serapan\" }]", "budget sums need one hierarchy level"),
        ("query.dataset = \"complaints\"\nquery.measures = [{ id = \"n\", fn = \"rate_per_hour\" }]", "needs a `window` filter"),
        ("query.dataset = \"complaints\"\nquery.measures = [{ id = \"n\", fn = \"sla_at_risk\" }]", "needs `within`"),
        ("query.dataset = \"complaints\"\nquery.measures = [{ id = \"n\", fn = \"mode\" }]", "unknown measure `mode`"),
        ("query.dataset = \"tweets\"\nquery.measures = [{ id = \"n\", fn = \"count\" }]", "unknown dataset `tweets`"),
        ("query.dataset = \"complaints\"\nquery.filter = [{ field = \"status\", equals = \"done\" }]\nquery.measures = [{ id = \"n\", fn = \"count\" }]", "`done` is not a value of `status`"),
        ("query.dataset = \"complaints\"\nquery.filter = [{ field = \"created_at\", window = \"next week\" }]\nquery.measures = [{ id = \"n\", fn = \"count\" }]", "unknown window `next week`"),
        ("query.dataset = \"complaints\"\nquery.filter = [{ field = \"category\", window = \"today\" }]\nquery.measures = [{ id = \"n\", fn = \"count\" }]", "needs a time field"),
        ("query.dataset = \"complaints\"\nquery.group_by = [\"opd\"]\nquery.measures = [{ id = \"n\", fn = \"count\" }]", "a kpi shows one number"),
    ];
    for (body, expected) in cases {
        let e = errors(&panel(&format!("kind = \"kpi\"\n{body}\n")));
        assert!(
            e.iter().any(|e| e.contains(expected)),
            "{body}: expected `{expected}` in {e:?}"
        );
        assert!(
            e.iter().all(|e| e.starts_with("dashboards/x.toml:")),
            "{e:?}"
        );
    }
}

#[test]
fn wall_areas_must_fit_the_grid_and_not_overlap() {
    let text = r#"title = { id = "W", en = "W" }
audience = "wall"
layout = { columns = 4, rows = 2 }

[[panels]]
id = "a"
kind = "source_health"
title = { id = "A", en = "A" }
area = { col = 1, row = 1, width = 3 }

[[panels]]
id = "b"
kind = "source_health"
title = { id = "B", en = "B" }
area = { col = 3, row = 1, width = 2 }

[[panels]]
id = "c"
kind = "source_health"
title = { id = "C", en = "C" }
area = { col = 1, row = 2, width = 5 }
"#;
    let e = errors(text);
    assert!(
        e.iter().any(|e| e.contains(":15:8: area overlaps")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.contains(":21:8: area does not fit the 4×2 grid")),
        "{e:?}"
    );
}

#[test]
fn a_broken_file_keeps_its_previous_version_and_reports_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ops.toml");
    let good = panel("kind = \"kpi\"\nquery.dataset = \"complaints\"\nquery.measures = [{ id = \"n\", fn = \"count\" }]\n");
    std::fs::write(&path, &good).unwrap();
    let catalog = Catalog::open(dir.path(), Rules::zone(DEFAULT_TIME_ZONE));
    let first = catalog.get("ops").unwrap();
    assert!(catalog.errors().is_empty());

    std::fs::write(&path, good.replace("fn = \"count\"", "fn = \"cuont\"")).unwrap();
    assert!(catalog.rescan());
    let still = catalog.get("ops").unwrap();
    assert!(
        Arc::ptr_eq(&first, &still),
        "the previous version keeps serving"
    );
    let errors = catalog.errors();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().contains("ops.toml:9:"),
        "{}",
        errors[0]
    );

    std::fs::write(
        &path,
        good.replace("title = { id = \"P\"", "title = { id = \"Q\""),
    )
    .unwrap();
    assert!(catalog.rescan());
    assert_eq!(catalog.get("ops").unwrap().panels[0].title.id, "Q");
    assert!(catalog.errors().is_empty());
    assert!(!catalog.rescan(), "an unchanged file changes nothing");

    std::fs::remove_file(&path).unwrap();
    assert!(catalog.rescan());
    assert!(catalog.get("ops").is_none());
}

#[test]
fn a_map_must_name_a_boundary_set_the_server_has() {
    let text = panel(
        "kind = \"map\"\nquery.dataset = \"complaints\"\nquery.group_by = [\"kelurahan\"]\n\
         query.measures = [{ id = \"n\", fn = \"count\" }]\n\
         layer = { kind = \"choropleth\", set = \"kota_pasuruan_kelurahan\" }\n",
    );
    let e = parse(&text, Path::new("x.toml"), &shipped_rules()).unwrap_err();
    assert!(e[0].to_string().starts_with("x.toml:11:38: unknown boundary set `kota_pasuruan_kelurahan`: one of kab_gresik_desa_kelurahan"), "{e:?}");
    let fixed = text.replace("kota_pasuruan_kelurahan", "kota_pasuruan_desa_kelurahan");
    assert!(parse(&fixed, Path::new("x.toml"), &shipped_rules()).is_ok());
}

#[test]
fn two_files_may_not_claim_one_id() {
    let dir = tempfile::tempdir().unwrap();
    let body = panel("kind = \"kpi\"\nquery.dataset = \"complaints\"\nquery.measures = [{ id = \"n\", fn = \"count\" }]\n");
    std::fs::write(dir.path().join("a.toml"), format!("id = \"same\"\n{body}")).unwrap();
    std::fs::write(dir.path().join("b.toml"), format!("id = \"same\"\n{body}")).unwrap();
    let e = check_dir(dir.path(), &Rules::zone(DEFAULT_TIME_ZONE));
    assert_eq!(e.len(), 1);
    assert!(e[0].message.contains("already used"), "{e:?}");
}

#[test]
fn the_committed_json_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dashboard.schema.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        committed,
        json_schema(),
        "regenerate with `pantau check --dashboard-schema > docs/dashboard.schema.json`"
    );
}
