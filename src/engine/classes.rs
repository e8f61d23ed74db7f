//! Class breaks for choropleth maps, computed on the server so every screen shows the same legend.

pub use crate::dashboards::model::Method;

/// Upper bounds of the classes but the last: a value `v` is in the first class whose break is
/// `>= v`, or in the last class. Fewer classes come back when the values do not support them
/// (e.g. all regions equal); an empty slice means one class.
pub fn breaks(values: &[f64], classes: usize, method: Method) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() || classes < 2 {
        return Vec::new();
    }
    sorted.sort_by(f64::total_cmp);
    let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
    let mut out: Vec<f64> = match method {
        Method::EqualInterval => (1..classes)
            .map(|i| min + (max - min) * i as f64 / classes as f64)
            .collect(),
        Method::Quantile => (1..classes)
            .map(|i| {
                let rank = (sorted.len() * i).div_ceil(classes).max(1) - 1;
                sorted[rank]
            })
            .collect(),
    };
    // Breaks must rise strictly and lie below the maximum, else a class would be empty.
    out.dedup();
    out.retain(|b| *b < max);
    out
}

/// The class (0-based) of `value` for `breaks`.
pub fn class_of(value: f64, breaks: &[f64]) -> usize {
    breaks
        .iter()
        .position(|b| value <= *b)
        .unwrap_or(breaks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_breaks_fill_classes_evenly() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let b = breaks(&values, 5, Method::Quantile);
        assert_eq!(b, [2.0, 4.0, 6.0, 8.0]);
        let mut counts = [0; 5];
        for v in &values {
            counts[class_of(*v, &b)] += 1;
        }
        assert_eq!(counts, [2, 2, 2, 2, 2]);
    }

    #[test]
    fn equal_intervals_split_the_range() {
        assert_eq!(
            breaks(&[0.0, 100.0, 30.0], 4, Method::EqualInterval),
            [25.0, 50.0, 75.0]
        );
        assert_eq!(class_of(100.0, &[25.0, 50.0, 75.0]), 3);
        assert_eq!(class_of(0.0, &[25.0, 50.0, 75.0]), 0);
    }

    #[test]
    fn degenerate_inputs_give_fewer_classes_never_empty_ones() {
        assert!(breaks(&[], 5, Method::Quantile).is_empty());
        assert!(breaks(&[3.0, 3.0, 3.0], 5, Method::Quantile).is_empty());
        assert_eq!(breaks(&[0.0, 0.0, 0.0, 7.0], 4, Method::Quantile), [0.0]);
        assert!(breaks(&[1.0, f64::NAN], 3, Method::EqualInterval).is_empty());
    }
}
