//! A compressed-sparse-row matrix: the shape text features take (a few dozen
//! non-zeros in tens of thousands of columns), and dense features too, as full rows.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Csr {
    pub n_cols: usize,
    /// Row `i` holds `indices[indptr[i]..indptr[i + 1]]`.
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub data: Vec<f32>,
}

impl Csr {
    pub fn new(n_cols: usize) -> Csr {
        Csr {
            n_cols,
            indptr: vec![0],
            indices: Vec::new(),
            data: Vec::new(),
        }
    }

    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    pub fn push_row(&mut self, entries: impl IntoIterator<Item = (u32, f32)>) {
        for (i, v) in entries {
            self.indices.push(i);
            self.data.push(v);
        }
        self.indptr.push(self.indices.len());
    }

    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// Dense rows (`rows[i].len() == width`) as a matrix.
    pub fn from_dense(rows: &[Vec<f32>], width: usize) -> Csr {
        let mut m = Csr::new(width);
        for r in rows {
            m.push_row(r.iter().enumerate().map(|(j, &v)| (j as u32, v)));
        }
        m
    }

    /// `[self | other]`, column-wise, with `other` scaled by `weight`.
    pub fn hstack(&self, other: &Csr, weight: f32) -> Csr {
        assert_eq!(
            self.n_rows(),
            other.n_rows(),
            "hstack of unequal row counts"
        );
        let mut m = Csr::new(self.n_cols + other.n_cols);
        let offset = self.n_cols as u32;
        for i in 0..self.n_rows() {
            let (ai, av) = self.row(i);
            let (bi, bv) = other.row(i);
            m.push_row(
                ai.iter()
                    .copied()
                    .zip(av.iter().copied())
                    .chain(bi.iter().zip(bv).map(|(&j, &v)| (j + offset, v * weight))),
            );
        }
        m
    }
}
