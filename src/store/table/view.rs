//! A reader's immutable view of one hot table: frames over its chunks, current and as-of
//! selections, the deltas of recent commits, and labels and keys decoded.

use super::*;

/// An immutable view of one dataset as of a commit; cheap to clone.
#[derive(Clone)]
pub struct TableView {
    pub(super) dataset: Dataset,
    pub(super) chunks: Vec<Chunk>,
    pub(super) rows: u32,
    pub(super) current_rows: u64,
    pub(super) keys: KeyStore,
    pub(super) labels: SharedLabels,
    pub(super) updated_at: Option<DateTime<Utc>>,
    pub(super) hot_since: Option<i64>,
    pub(super) history: Arc<Vec<crate::store::checkpoint::HistoryFile>>,
    pub(super) lineage: u64,
    pub(super) deltas: Arc<Vec<Arc<Delta>>>,
    pub(super) dropped_through: u64,
}

/// Why a read could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// polars failed building or reading a frame.
    #[error("reading {dataset}: {source}")]
    Frame {
        /// Dataset read.
        dataset: &'static str,
        /// The polars error.
        #[source]
        source: PolarsError,
    },
}

impl TableView {
    /// Which dataset this is.
    pub fn dataset(&self) -> Dataset {
        self.dataset
    }

    /// Versions held hot (all rows, current or not).
    pub fn rows(&self) -> u64 {
        self.rows.into()
    }

    /// Keys with a current version (distinct complaints, budget lines, events).
    pub fn current_rows(&self) -> u64 {
        self.current_rows
    }

    /// When the last batch that changed it was committed.
    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at
    }

    /// Rows with a time before this moved to history (`None`: nothing has).
    pub fn hot_since(&self) -> Option<DateTime<Utc>> {
        self.hot_since
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
    }

    /// The label of dictionary code `code` in column `col`.
    pub fn label(&self, col: usize, code: i64) -> Option<&str> {
        let labels = self.labels.get(col)?.as_ref()?;
        usize::try_from(code)
            .ok()
            .and_then(|c| labels.get(c))
            .map(|l| &**l)
    }

    /// All labels of dictionary column `col`, by code.
    pub fn labels(&self, col: usize) -> &[Arc<str>] {
        self.labels
            .get(col)
            .and_then(|l| l.as_deref())
            .map_or(&[], |l| l.as_slice())
    }

    /// The key of key id `key_id` as (name, text) parts.
    pub fn key(&self, key_id: u32) -> Vec<(&'static str, String)> {
        key_parts(self.dataset, &self.keys.get(key_id))
    }

    /// The record's id within its source (`source_id` of a complaint, `event_id` of a service
    /// event) for key id `key_id`, decoded from the key index; `None` for budget lines, whose
    /// key parts are all columns.
    pub fn local_id(&self, key_id: u32) -> Option<String> {
        if self.dataset == Dataset::BudgetLines {
            return None;
        }
        let key = self.keys.get(key_id);
        let at = key.iter().position(|b| *b == 0)?;
        std::str::from_utf8(&key[at + 1..]).ok().map(str::to_owned)
    }

    /// The oldest version time the store holds for this dataset, hot or in history (`None` when
    /// it holds nothing): as-of reads before it have nothing to show.
    pub fn earliest(&self) -> Result<Option<DateTime<Utc>>, ReadError> {
        let schema = self.dataset.schema();
        let col = schema.version_column;
        let mut earliest: Option<u32> = None;
        for chunk in &self.chunks {
            if let Ok(Some(min)) = chunk.columns[col].min::<u32>() {
                earliest = Some(earliest.map_or(min, |e| e.min(min)));
            }
        }
        for file in self.history.iter() {
            let name = schema.fields[col].name;
            let min = file
                .read(Some(vec![name.to_owned()]))
                .and_then(|df| df.column(name)?.cast(&DataType::UInt32))
                .map_err(|e| self.error(e))?
                .u32()
                .map_err(|e| self.error(e))?
                .min();
            if let Some(min) = min {
                earliest = Some(earliest.map_or(min, |e| e.min(min)));
            }
        }
        Ok(earliest.and_then(|secs| DateTime::from_timestamp(secs.into(), 0)))
    }

    /// How many key ids there are (every key id is below this).
    pub fn keys_len(&self) -> u32 {
        self.keys.len()
    }

    /// The chunks holding the view's rows, in row order.
    pub fn chunks(&self) -> impl ExactSizeIterator<Item = ChunkRef<'_>> + '_ {
        self.chunks.iter().map(|chunk| ChunkRef { chunk })
    }

    /// The row numbering this view's rows have (see [`TableView::changes_since`]).
    pub fn lineage(&self) -> u64 {
        self.lineage
    }

    /// The deltas of the commits after `seq` up to this view, oldest first, when rows are still
    /// numbered as in `lineage` and every one of those deltas is still kept; `None` otherwise
    /// (the reader recomputes from the whole view).
    pub fn changes_since(&self, lineage: u64, seq: u64) -> Option<Vec<Arc<Delta>>> {
        if lineage != self.lineage || seq < self.dropped_through {
            return None;
        }
        Some(
            self.deltas
                .iter()
                .filter(|d| d.seq > seq)
                .cloned()
                .collect(),
        )
    }

    /// Column `col` (the schema's, then the key id) of `chunks` laid end to end; shares their
    /// memory.
    fn column_over<'c>(
        &self,
        col: usize,
        chunks: impl IntoIterator<Item = &'c Chunk>,
    ) -> Result<Series, ReadError> {
        let schema = self.dataset.schema();
        let name = schema.fields.get(col).map_or(KEY_ID, |f| f.name);
        let dtype = schema
            .fields
            .get(col)
            .map_or(DataType::UInt32, |f| f.storage.dtype());
        let mut series = Series::new_empty(name.into(), &dtype);
        for chunk in chunks {
            series
                .append(&chunk.columns[col])
                .map_err(|e| self.error(e))?;
        }
        Ok(series)
    }

    /// Every hot row (all versions) with `key_id` and `current` columns; shares the columns' memory.
    pub fn frame(&self) -> Result<DataFrame, ReadError> {
        let fields = self.dataset.schema().fields.len();
        let mut columns: Vec<Column> = Vec::with_capacity(fields + 2);
        for col in 0..=fields {
            columns.push(self.column_over(col, &self.chunks)?.into_column());
        }
        let flags = BooleanChunked::from_iter_values(
            CURRENT.into(),
            self.chunks
                .iter()
                .flat_map(|c| (0..c.len).map(move |i| c.is_current(i))),
        );
        columns.push(flags.into_series().into_column());
        DataFrame::new(columns).map_err(|e| self.error(e))
    }

    /// The rows numbered `rows` (ascending) with the columns of [`TableView::frame`], read from
    /// the chunks that hold them alone: the cost follows the rows asked for, not the table's
    /// size. Each column comes back as one contiguous chunk.
    pub fn gather(&self, rows: &[u32]) -> Result<DataFrame, ReadError> {
        debug_assert!(rows.is_sorted(), "rows must be ascending");
        // The chunks holding any of the rows, and each row's place in them laid end to end.
        let mut held: Vec<&Chunk> = Vec::new();
        let mut idx: Vec<IdxSize> = Vec::with_capacity(rows.len());
        let mut base = 0u32;
        for &row in rows {
            if held.last().is_none_or(|c| row >= c.start + c.len) {
                let at = self.chunks.partition_point(|c| c.start + c.len <= row);
                let chunk = self
                    .chunks
                    .get(at)
                    .filter(|c| c.start <= row)
                    .ok_or_else(|| {
                        self.error(polars_err!(OutOfBounds: "row {row} is not in this view"))
                    })?;
                base += held.last().map_or(0, |c| c.len);
                held.push(chunk);
            }
            let chunk = held[held.len() - 1];
            idx.push(base + row - chunk.start);
        }
        let idx = IdxCa::from_vec("".into(), idx);
        let fields = self.dataset.schema().fields.len();
        let mut columns: Vec<Column> = Vec::with_capacity(fields + 2);
        for col in 0..=fields {
            let series = self.column_over(col, held.iter().copied())?;
            let taken = series.take(&idx).map_err(|e| self.error(e))?;
            columns.push(taken.rechunk().into_column());
        }
        let flags = BooleanChunked::from_iter_values(
            CURRENT.into(),
            rows.iter().map(|&row| {
                let at = self.chunks.partition_point(|c| c.start + c.len <= row);
                self.chunks[at].is_current(row - self.chunks[at].start)
            }),
        );
        columns.push(flags.into_series().into_column());
        DataFrame::new(columns).map_err(|e| self.error(e))
    }

    /// The current version of every key.
    pub fn current(&self) -> Result<DataFrame, ReadError> {
        let frame = self.frame()?;
        let mask = frame.column(CURRENT).and_then(|c| c.bool().cloned());
        mask.and_then(|m| frame.filter(&m))
            .map_err(|e| self.error(e))
    }

    /// The state at `at`: for every key, its latest version whose time is at or before `at`
    /// (history files included when `at` is before the hot window).
    pub fn as_of(&self, at: DateTime<Utc>) -> Result<DataFrame, ReadError> {
        let schema = self.dataset.schema();
        let limit = at.timestamp();
        let mut frame = self.frame()?.drop(CURRENT).map_err(|e| self.error(e))?;
        if self.hot_since.is_some_and(|since| limit < since) {
            let mut all = self.read_history()?;
            all.vstack_mut(&frame).map_err(|e| self.error(e))?;
            frame = all;
        }
        let times = frame
            .column(schema.fields[schema.version_column].name)
            .and_then(|c| c.u32().cloned())
            .map_err(|e| self.error(e))?;
        let key_ids = frame
            .column(KEY_ID)
            .and_then(|c| c.u32().cloned())
            .map_err(|e| self.error(e))?;
        // Versions of a key are accepted in non-decreasing time order, so the last row of a key
        // at or before `at` is its version then.
        let mut latest = vec![NONE; self.keys.len() as usize];
        for (row, (t, key)) in times.into_iter().zip(&key_ids).enumerate() {
            if let (Some(t), Some(key)) = (t, key) {
                if i64::from(t) <= limit {
                    if let Some(slot) = latest.get_mut(key as usize) {
                        *slot = row as u32;
                    }
                }
            }
        }
        let mut picked: Vec<u32> = latest.into_iter().filter(|r| *r != NONE).collect();
        picked.sort_unstable();
        let idx = IdxCa::from_vec("idx".into(), picked);
        frame.take(&idx).map_err(|e| self.error(e))
    }

    /// For each hot row (in [`TableView::frame`] order), whether it is its key's version at
    /// `at`: the same rows [`TableView::as_of`] returns, as a mask over the shared frame rather
    /// than a copy. `None` when `at` is before the hot window (history files are needed: use
    /// `as_of`).
    pub fn as_of_mask(&self, at: DateTime<Utc>) -> Option<BooleanChunked> {
        let limit = at.timestamp();
        if self.hot_since.is_some_and(|since| limit < since) {
            return None;
        }
        let schema = self.dataset.schema();
        let time_col = schema.version_column;
        let key_col = schema.fields.len();
        let mut latest = vec![NONE; self.keys.len() as usize];
        for chunk in &self.chunks {
            let (Ok(times), Ok(keys)) =
                (chunk.columns[time_col].u32(), chunk.columns[key_col].u32())
            else {
                return None;
            };
            // Versions of a key are accepted in non-decreasing time order, so the last row of a
            // key at or before `at` is its version then. Both columns are never null: read them
            // as plain slices, array by array.
            let mut mark = |row: u32, t: u32, key: u32| {
                if i64::from(t) <= limit {
                    if let Some(slot) = latest.get_mut(key as usize) {
                        *slot = row;
                    }
                }
            };
            let aligned = times.null_count() == 0
                && keys.null_count() == 0
                && times.chunk_lengths().eq(keys.chunk_lengths());
            if aligned {
                let mut row = chunk.start;
                for (times, keys) in times.downcast_iter().zip(keys.downcast_iter()) {
                    for (t, key) in times.values().iter().zip(keys.values().iter()) {
                        mark(row, *t, *key);
                        row += 1;
                    }
                }
            } else {
                for (i, (t, key)) in times.into_iter().zip(keys).enumerate() {
                    if let (Some(t), Some(key)) = (t, key) {
                        mark(chunk.start + i as u32, t, key);
                    }
                }
            }
        }
        let mut bits = vec![false; self.rows as usize];
        for row in latest.into_iter().filter(|r| *r != NONE) {
            if let Some(b) = bits.get_mut(row as usize) {
                *b = true;
            }
        }
        // Cut like the frame's columns, so polars can filter them without re-chunking (copying)
        // every column to match the mask.
        let mut at = 0usize;
        let mut mask = BooleanChunked::from_slice("as_of".into(), &[]);
        for chunk in &self.chunks {
            for array in chunk.columns[time_col].chunks() {
                let len = array.len();
                let part = BooleanChunked::from_slice("as_of".into(), &bits[at..at + len]);
                mask.append(&part).ok()?;
                at += len;
            }
        }
        Some(mask)
    }

    fn read_history(&self) -> Result<DataFrame, ReadError> {
        let schema = self.dataset.schema();
        let mut out: Option<DataFrame> = None;
        for file in self.history.iter() {
            let part = file
                .read(None)
                .and_then(|df| {
                    let mut cols: Vec<Column> = Vec::new();
                    for f in schema.fields {
                        cols.push(df.column(f.name)?.cast(&f.storage.dtype())?);
                    }
                    cols.push(df.column(KEY_ID)?.clone());
                    DataFrame::new(cols)
                })
                .map_err(|e| self.error(e))?;
            match &mut out {
                Some(all) => {
                    all.vstack_mut(&part).map_err(|e| self.error(e))?;
                }
                None => out = Some(part),
            }
        }
        match out {
            Some(df) => Ok(df),
            None => Ok(self
                .frame()?
                .drop(CURRENT)
                .map_err(|e| self.error(e))?
                .clear()),
        }
    }

    /// The stored values of hot row `row` and its key id.
    #[cfg(test)]
    pub(crate) fn row(&self, row: u32) -> Option<(u32, Vec<Option<i64>>)> {
        let c = self.chunks.partition_point(|c| c.start + c.len <= row);
        let chunk = self.chunks.get(c)?;
        let offset = (row.checked_sub(chunk.start)?) as usize;
        let n = self.dataset.schema().fields.len();
        let values = (0..n)
            .map(|col| cell(&chunk.columns[col], offset))
            .collect();
        let key = cell(&chunk.columns[n], offset)? as u32;
        Some((key, values))
    }

    /// A decoder over one row's values, resolving labels through this view.
    #[cfg(test)]
    pub(crate) fn with_decoder<T>(
        &self,
        values: &[Option<i64>],
        f: impl FnOnce(&crate::store::records::Decoder<'_>) -> T,
    ) -> T {
        let labels = |col: usize, code: i64| self.label(col, code).map(str::to_owned);
        f(&crate::store::records::Decoder {
            values,
            labels: &labels,
        })
    }

    pub(crate) fn keys(&self) -> &KeyStore {
        &self.keys
    }

    pub(crate) fn history_files(&self) -> &[crate::store::checkpoint::HistoryFile] {
        &self.history
    }

    fn error(&self, source: PolarsError) -> ReadError {
        ReadError::Frame {
            dataset: self.dataset.name(),
            source,
        }
    }
}
