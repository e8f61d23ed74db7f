//! The dictionaries of a dataset's label columns: each label's code, stable for the table's life.

use std::sync::Arc;

use crate::store::schema::Schema;

/// Every column's labels by code (`None` for columns without a dictionary), shared by snapshots.
pub(crate) type SharedLabels = Arc<Vec<Option<Arc<Vec<Arc<str>>>>>>;

/// The labels of each dictionary column of a dataset; grows, never changes a code.
#[derive(Clone)]
pub(crate) struct Dicts {
    columns: Vec<Option<Dictionary>>,
}

#[derive(Clone)]
struct Dictionary {
    labels: Vec<Arc<str>>,
    index: hashbrown::HashMap<Arc<str>, u32>,
    max: i64,
    /// The labels as last handed to a snapshot; dropped when a label is added.
    shared: Option<Arc<Vec<Arc<str>>>>,
}

impl Dicts {
    pub(crate) fn new(schema: &Schema) -> Dicts {
        let columns = schema
            .fields
            .iter()
            .map(|f| {
                f.storage.is_dict().then(|| Dictionary {
                    labels: Vec::new(),
                    index: hashbrown::HashMap::new(),
                    max: f.storage.max(),
                    shared: None,
                })
            })
            .collect();
        Dicts { columns }
    }

    /// The code of `label` in column `col`, adding it if new.
    pub(crate) fn code(&mut self, col: usize, label: &str) -> Result<i64, String> {
        let Some(Some(dict)) = self.columns.get_mut(col) else {
            return Err(format!("column {col} has no dictionary"));
        };
        if let Some(code) = dict.index.get(label) {
            return Ok(i64::from(*code));
        }
        let code = dict.labels.len() as i64;
        if code > dict.max {
            return Err(format!(
                "too many distinct values ({code}) for a dictionary column"
            ));
        }
        let label: Arc<str> = Arc::from(label);
        dict.labels.push(label.clone());
        dict.index.insert(label, code as u32);
        dict.shared = None;
        Ok(code)
    }

    /// Every column's labels, sharing what did not change since the last call.
    pub(crate) fn view(&mut self) -> SharedLabels {
        Arc::new(
            self.columns
                .iter_mut()
                .map(|d| {
                    d.as_mut().map(|d| {
                        d.shared
                            .get_or_insert_with(|| Arc::new(d.labels.clone()))
                            .clone()
                    })
                })
                .collect(),
        )
    }

    /// Rebuilds dictionaries from saved labels (checkpoint load).
    pub(crate) fn restore(&mut self, col: usize, labels: Vec<String>) -> Result<(), String> {
        for label in labels {
            self.code(col, &label)?;
        }
        Ok(())
    }
}
