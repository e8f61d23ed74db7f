//! Geo-enrichment: a complaint with coordinates but no region codes gets its kelurahan and
//! kecamatan by point-in-polygon over the configured boundary set; a point outside every region
//! is kept and flagged out of jurisdiction.

use std::sync::Arc;

use crate::domain::{Complaint, RegionLevel};
use crate::geo::{Boundaries, RegionIndex};

/// Assigns region codes from coordinates; cheap to share between workers.
#[derive(Clone)]
pub struct Enricher {
    index: Option<Arc<RegionIndex>>,
}

impl Enricher {
    /// An enricher over `set` (kelurahan/desa or kecamatan level); `None` leaves rows unchanged.
    pub fn new(set: Option<Arc<Boundaries>>) -> Enricher {
        Enricher {
            index: set.map(|s| Arc::new(RegionIndex::new(s))),
        }
    }

    /// An enricher that changes nothing.
    pub fn none() -> Enricher {
        Enricher { index: None }
    }

    /// Fills region codes of the complaints that have coordinates and no codes; returns how many
    /// were found outside every region.
    pub fn apply(&self, rows: &mut [Complaint]) -> usize {
        let Some(index) = &self.index else {
            return 0;
        };
        let mut outside = 0;
        for row in rows {
            let (Some(lat), Some(lon)) = (row.lat, row.lon) else {
                continue;
            };
            if row.kelurahan.is_some() || row.kecamatan.is_some() {
                continue;
            }
            match index.region_at(lon, lat) {
                Some(region) => match region.code.level() {
                    RegionLevel::Village => {
                        row.kecamatan = region.code.parent();
                        row.kelurahan = Some(region.code.clone());
                    }
                    RegionLevel::District => row.kecamatan = Some(region.code.clone()),
                    // A regency or province set says only that the point is ours.
                    RegionLevel::Regency | RegionLevel::Province => {}
                },
                None => {
                    row.out_of_jurisdiction = true;
                    outside += 1;
                }
            }
        }
        outside
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn points_get_codes_and_outsiders_are_flagged() {
        let set = Arc::new(Boundaries::kota_pasuruan_kelurahan().unwrap());
        let region = &set.regions()[0];
        let mut rng = rand::rng();
        let (lon, lat) = set.random_point_in(region, &mut rng);
        let enricher = Enricher::new(Some(set.clone()));
        let mut inside = Complaint::new("t", "1", "Sampah", "DLH", Utc::now());
        (inside.lat, inside.lon) = (Some(lat), Some(lon));
        let mut la = Complaint::new("t", "2", "Graffiti", "OCB", Utc::now());
        (la.lat, la.lon) = (Some(34.07), Some(-118.29));
        let mut nowhere = Complaint::new("t", "3", "Sampah", "DLH", Utc::now());
        let mut rows = vec![inside, la, nowhere.clone()];
        assert_eq!(enricher.apply(&mut rows), 1);
        assert_eq!(rows[0].kelurahan.as_ref(), Some(&region.code));
        assert_eq!(rows[0].kecamatan, region.code.parent());
        assert!(!rows[0].out_of_jurisdiction);
        assert!(rows[1].out_of_jurisdiction && rows[1].kelurahan.is_none());
        nowhere.out_of_jurisdiction = false;
        assert_eq!(rows[2], nowhere, "no coordinates, nothing to decide");
    }
}
