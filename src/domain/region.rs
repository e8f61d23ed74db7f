//! Kemendagri administrative region codes (`35.75.01.1001`).

use std::fmt;
use std::str::FromStr;

/// Level of a region in the Kemendagri hierarchy, told by the number of code segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    /// `35` — provinsi.
    Province,
    /// `35.75` — kabupaten or kota.
    Regency,
    /// `35.75.01` — kecamatan.
    District,
    /// `35.75.01.1001` — kelurahan or desa.
    Village,
}

/// A validated, dotted Kemendagri region code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RegionCode(String);

/// Why a string is not a region code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{code}' is not a Kemendagri region code: {reason}")]
pub struct RegionCodeError {
    code: String,
    reason: &'static str,
}

/// Digits per segment: province 2, regency 2, district 2, village 4.
const SEGMENT_WIDTHS: [usize; 4] = [2, 2, 2, 4];

impl RegionCode {
    /// The level this code names.
    pub fn level(&self) -> RegionLevel {
        match self.0.split('.').count() {
            1 => RegionLevel::Province,
            2 => RegionLevel::Regency,
            3 => RegionLevel::District,
            _ => RegionLevel::Village,
        }
    }

    /// The code of the enclosing region, if any (`35.75.01.1001` → `35.75.01`).
    pub fn parent(&self) -> Option<RegionCode> {
        self.0
            .rsplit_once('.')
            .map(|(parent, _)| RegionCode(parent.to_owned()))
    }

    /// The dotted code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RegionCode {
    type Err = RegionCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason| RegionCodeError {
            code: s.chars().take(40).collect(),
            reason,
        };
        let segments: Vec<&str> = s.split('.').collect();
        if segments.len() > SEGMENT_WIDTHS.len() {
            return Err(fail("more than four segments"));
        }
        for (segment, width) in segments.iter().zip(SEGMENT_WIDTHS) {
            if segment.len() != width || !segment.bytes().all(|b| b.is_ascii_digit()) {
                return Err(fail(
                    "segments must be 2, 2, 2 and 4 digits separated by dots",
                ));
            }
        }
        Ok(RegionCode(s.to_owned()))
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RegionCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_parents_follow_the_segments() {
        let village: RegionCode = "35.75.01.1001".parse().unwrap();
        assert_eq!(village.level(), RegionLevel::Village);
        let district = village.parent().unwrap();
        assert_eq!(district.as_str(), "35.75.01");
        assert_eq!(district.level(), RegionLevel::District);
        assert_eq!(district.parent().unwrap().level(), RegionLevel::Regency);
        assert!("35".parse::<RegionCode>().unwrap().parent().is_none());
    }

    #[test]
    fn malformed_codes_are_rejected() {
        for bad in [
            "",
            "3575",
            "35.75.1",
            "35.75.01.101",
            "35.75.01.1001.1",
            "35.7a",
        ] {
            assert!(bad.parse::<RegionCode>().is_err(), "{bad} accepted");
        }
    }
}
