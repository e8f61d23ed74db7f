//! Validation of a map panel's layer: its kind, boundary set, and the settings of choropleths
//! (measure, class method and count) or of the layers that draw rows (zoom, cell, features,
//! heat weight).

use super::Problems;
use crate::dashboards::fields;
use crate::dashboards::model::*;
use crate::dashboards::spec;

pub(super) fn validate_layer(
    spec: &spec::LayerSpec,
    query: &Option<Query>,
    rules: &crate::dashboards::Rules,
    p: &mut Problems,
) -> Option<Layer> {
    if let Some(sets) = &rules.boundary_sets {
        if !sets.contains(spec.set.get_ref()) {
            p.at(
                &spec.set,
                format!(
                    "unknown boundary set `{}`: one of {}",
                    spec.set.get_ref(),
                    sets.join(", ")
                ),
            );
            return None;
        }
    }
    let kind = match spec.kind.get_ref().as_str() {
        "choropleth" => LayerKind::Choropleth,
        "points" => LayerKind::Points,
        "clusters" => LayerKind::Clusters,
        "heat" => LayerKind::Heat,
        other => {
            p.at(
                &spec.kind,
                format!("unknown layer kind `{other}`: choropleth, points, clusters or heat"),
            );
            return None;
        }
    };
    let q = query.as_ref()?;
    let zoom = match &spec.zoom {
        Some(z) if !(8..=20).contains(z.get_ref()) => {
            p.at(z, "zoom is 8 to 20");
            return None;
        }
        z => z.as_ref().map(|z| *z.get_ref()),
    };
    let cell_px = match &spec.cell {
        Some(c) if !(8..=256).contains(c.get_ref()) => {
            p.at(c, "cell is 8 to 256 pixels");
            return None;
        }
        Some(c) => u32::from(*c.get_ref()),
        None if kind == LayerKind::Heat => 32,
        None => 64,
    };
    let max_features = match &spec.max_features {
        Some(m) if !(1..=5000).contains(m.get_ref()) => {
            p.at(m, "max_features is 1 to 5000");
            return None;
        }
        Some(m) => usize::from(*m.get_ref()),
        None => 2000,
    };
    let weight = match &spec.weight {
        None => None,
        Some(w) if kind != LayerKind::Heat => {
            p.at(w, "`weight` belongs to heat layers");
            return None;
        }
        Some(w) => match fields::field(q.dataset, w.get_ref()) {
            Some(f) if f.ty.is_numeric() => Some(f),
            Some(_) => {
                p.at(
                    w,
                    format!("`{}` is not a number, hours or money field", w.get_ref()),
                );
                return None;
            }
            None => {
                p.at(w, format!("unknown field `{}`", w.get_ref()));
                return None;
            }
        },
    };
    if kind != LayerKind::Choropleth {
        let row_only = |name: &str, given: bool, p: &mut Problems| {
            if given {
                p.at(&spec.kind, format!("`{name}` belongs to choropleth layers"));
            }
        };
        row_only("measure", spec.measure.is_some(), p);
        row_only("method", spec.method.is_some(), p);
        row_only("classes", spec.classes.is_some(), p);
        return Some(Layer {
            kind,
            set: spec.set.get_ref().clone(),
            measure: String::new(),
            method: Method::Quantile,
            classes: 5,
            zoom,
            cell_px,
            max_features,
            weight,
        });
    }
    for (name, given) in [
        ("zoom", spec.zoom.is_some()),
        ("cell", spec.cell.is_some()),
        ("max_features", spec.max_features.is_some()),
    ] {
        if given {
            p.at(
                &spec.kind,
                format!("`{name}` belongs to points, clusters and heat layers"),
            );
        }
    }
    let measure = match &spec.measure {
        Some(m) => {
            if !q.measures.iter().any(|x| &x.id == m.get_ref()) {
                p.at(
                    m,
                    format!("`{}` is not a measure id of the query", m.get_ref()),
                );
                return None;
            }
            m.get_ref().clone()
        }
        None => q.measures.first()?.id.clone(),
    };
    let method = match spec.method.as_ref().map(|m| m.get_ref().as_str()) {
        None | Some("quantile") => Method::Quantile,
        Some("equal_interval") => Method::EqualInterval,
        Some(other) => {
            if let Some(m) = &spec.method {
                p.at(
                    m,
                    format!("unknown method `{other}`: quantile or equal_interval"),
                );
            }
            return None;
        }
    };
    let classes = match &spec.classes {
        Some(c) if !(2..=9).contains(c.get_ref()) => {
            p.at(c, "classes is 2 to 9");
            return None;
        }
        Some(c) => usize::from(*c.get_ref()),
        None => 5,
    };
    Some(Layer {
        kind,
        set: spec.set.get_ref().clone(),
        measure,
        method,
        classes,
        zoom,
        cell_px,
        max_features,
        weight,
    })
}
