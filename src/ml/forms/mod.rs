//! The fitted forms: what a trained model *is* once fitting is over — the state saved in `model.json` (and
//! `trees.bin`), checked when loaded, and predicted from. Each form has its own file (its arithmetic and its
//! load check); the Python loader `ml/mlx_pyfunc.py` mirrors the same forms. Learners (`ml::learners`)
//! produce forms; several learners may share one form (logistic, linear, ridge and lasso all give `Linear`).
//! Imported scikit-learn, LightGBM and XGBoost models become the same forms; where a library's arithmetic
//! differs from mlx's, the form carries it as an option (`LabelRule`, `Multi`, `Order`, `Weights`,
//! `Arithmetic`, the trees' `Rules` and the boosted `Link`) whose default is mlx's and which is never
//! written to `model.json` when it is the default (so mlx's files, and the Python loader reading them, do
//! not change).

pub mod boosted;
pub mod knn;
pub mod linear;
pub mod naive_bayes;
pub mod trees;

use super::core::{ModelError, Task, argmax};
use boosted::Objective;
use serde::{Deserialize, Serialize};
use std::path::Path;
use trees::Layout;
use trees::ensemble::Ensemble;

pub use boosted::link::Link;
pub use knn::{Order, Weights};
pub use linear::{LabelRule, Multi};
pub use naive_bayes::Arithmetic;

/// The file beside `model.json` that holds a tree form's trees (`trees::codec`).
pub const TREES_BIN: &str = "trees.bin";

/// The fitted state of a model. Trees are kept out of the JSON (see `trees::codec`); the `kind` tag names
/// the form in `model.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fitted {
    /// Classification: one row of coefficients (binary) or one per class (softmax); regression: one row.
    Linear {
        coef: Vec<Vec<f64>>,
        intercept: Vec<f64>,
        #[serde(default, skip_serializing_if = "is_default")]
        label: LabelRule,
        #[serde(default, skip_serializing_if = "is_default")]
        multi: Multi,
    },
    /// A forest or one tree: the trees' leaves averaged, as the ensemble's `Rules` say.
    Trees {
        #[serde(skip)]
        trees: Ensemble,
        n_trees: usize,
        /// The trees laid out for prediction, built on first use (`None`: walked as they are).
        #[serde(skip)]
        flat: Layout,
    },
    /// Gradient boosting: raw score = base_score + the sum of the trees' values (learning rate applied),
    /// tree `t` adding to class `t % per_iteration`.
    Boosted {
        #[serde(skip)]
        trees: Ensemble,
        n_trees: usize,
        base_score: Vec<f64>,
        per_iteration: usize,
        /// How mlx trained it (already applied to the leaf values): absent for an imported model.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        learning_rate: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        objective: Option<Objective>,
        best_iteration: Option<usize>,
        /// The trees laid out for prediction, built on first use (`None`: walked as they are).
        #[serde(skip)]
        flat: Layout,
        /// How the raw scores become the prediction: mlx's arithmetic, or the library's it was read from.
        #[serde(default, skip_serializing_if = "is_default")]
        link: Link,
    },
    /// The training rows (row-major) and their targets (class indices for classification).
    Knn {
        k: usize,
        x: Vec<f64>,
        y: Vec<f64>,
        #[serde(default, skip_serializing_if = "is_default")]
        order: Order,
        #[serde(default, skip_serializing_if = "is_default")]
        weights: Weights,
    },
    GaussianNb {
        means: Vec<Vec<f64>>,
        vars: Vec<Vec<f64>>,
        priors: Vec<f64>,
        #[serde(default, skip_serializing_if = "is_default")]
        arithmetic: Arithmetic,
    },
}

/// An option left at its default (mlx's arithmetic) is not written.
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// What a loaded form is checked against: the model's task, its feature count and outputs (classes for
/// classification, 1 for regression), and where its files are (named in errors).
pub struct LoadCheck<'a> {
    pub task: Task,
    pub n_features: usize,
    pub outputs: usize,
    pub dir: &'a Path,
    pub json_path: &'a Path,
}

impl LoadCheck<'_> {
    pub(crate) fn error(&self, path: &Path, why: String) -> ModelError {
        ModelError::Load {
            path: path.display().to_string(),
            why,
        }
    }

    /// An error about `model.json`.
    pub(crate) fn json_error(&self, why: &str) -> ModelError {
        self.error(self.json_path, why.into())
    }
}

impl Fitted {
    /// mlx's `Linear` form.
    pub fn linear(coef: Vec<Vec<f64>>, intercept: Vec<f64>) -> Fitted {
        Fitted::Linear {
            coef,
            intercept,
            label: LabelRule::default(),
            multi: Multi::default(),
        }
    }

    /// A boosted model read from another library: its trees, base scores (one per output) and link.
    pub fn boosted(trees: Ensemble, base_score: Vec<f64>, link: Link) -> Fitted {
        Fitted::Boosted {
            n_trees: trees.n_trees(),
            per_iteration: trees.n_groups(),
            trees,
            base_score,
            learning_rate: None,
            objective: None,
            best_iteration: None,
            flat: Layout::default(),
            link,
        }
    }

    /// A forest or one tree (mlx's, or read from another library): its leaves averaged as its rules say.
    pub fn forest(trees: Ensemble) -> Fitted {
        Fitted::Trees {
            n_trees: trees.n_trees(),
            trees,
            flat: Layout::default(),
        }
    }

    /// mlx's `Knn` form.
    pub fn knn(k: usize, x: Vec<f64>, y: Vec<f64>) -> Fitted {
        Fitted::Knn {
            k,
            x,
            y,
            order: Order::default(),
            weights: Weights::default(),
        }
    }

    /// mlx's `GaussianNb` form.
    pub fn gaussian_nb(means: Vec<Vec<f64>>, vars: Vec<Vec<f64>>, priors: Vec<f64>) -> Fitted {
        Fitted::GaussianNb {
            means,
            vars,
            priors,
            arithmetic: Arithmetic::default(),
        }
    }

    /// Class probabilities (row-major, `n_classes` per row) for classification.
    pub fn predict_proba(&self, x: &[f64], nf: usize, n_classes: usize) -> Vec<f64> {
        self.predict_classes(x, nf, n_classes).1
    }

    /// The predicted class index of each row, and the class probabilities (row-major, `n_classes` per
    /// row), for classification.
    pub fn predict_classes(
        &self,
        x: &[f64],
        nf: usize,
        n_classes: usize,
    ) -> (Vec<usize>, Vec<f64>) {
        let n = x.len() / nf.max(1);
        self.lay_out(n);
        let mut out = vec![0.0; n * n_classes];
        let mut labels = Vec::with_capacity(n);
        let mut scratch = boosted::Scratch::default();
        for r in 0..n {
            let row = &x[r * nf..(r + 1) * nf];
            let p = &mut out[r * n_classes..(r + 1) * n_classes];
            let label = match self {
                Fitted::Linear {
                    coef,
                    intercept,
                    label,
                    multi,
                } => linear::classify_row(coef, intercept, (*label, *multi), row, p),
                Fitted::Trees { trees, flat, .. } => {
                    trees::proba_row(flat, trees, row, &mut scratch.row, p);
                    argmax(p)
                }
                Fitted::Boosted {
                    trees,
                    base_score,
                    flat,
                    link,
                    ..
                } => boosted::Model {
                    layout: flat,
                    trees,
                    base: base_score,
                    link: *link,
                }
                .classify_row(row, &mut scratch, p),
                Fitted::Knn {
                    k,
                    x: tx,
                    y,
                    order,
                    weights,
                } => {
                    knn::Neighbours::new(*k, tx, y, nf, (*order, *weights)).proba_row(row, p);
                    argmax(p)
                }
                Fitted::GaussianNb {
                    means,
                    vars,
                    priors,
                    arithmetic,
                } => naive_bayes::classify_row(means, vars, priors, *arithmetic, row, p),
            };
            labels.push(label);
        }
        (labels, out)
    }

    /// Predicted values for regression.
    pub fn predict_values(&self, x: &[f64], nf: usize) -> Vec<f64> {
        let n = x.len() / nf.max(1);
        self.lay_out(n);
        let mut scratch = boosted::Scratch::default();
        (0..n)
            .map(|r| {
                let row = &x[r * nf..(r + 1) * nf];
                match self {
                    Fitted::Linear {
                        coef, intercept, ..
                    } => linear::value_row(coef, intercept, row),
                    Fitted::Trees { trees, flat, .. } => {
                        trees::value_row(flat, trees, row, &mut scratch.row)
                    }
                    Fitted::Boosted {
                        trees,
                        base_score,
                        flat,
                        link,
                        ..
                    } => boosted::Model {
                        layout: flat,
                        trees,
                        base: base_score,
                        link: *link,
                    }
                    .value_row(row, &mut scratch),
                    Fitted::Knn {
                        k,
                        x: tx,
                        y,
                        order,
                        weights,
                    } => knn::Neighbours::new(*k, tx, y, nf, (*order, *weights)).value_row(row),
                    Fitted::GaussianNb { .. } => f64::NAN,
                }
            })
            .collect()
    }

    /// Lay a tree form's trees out for fast prediction before a call of `rows` rows, if worth it.
    fn lay_out(&self, rows: usize) {
        if let Fitted::Trees { trees, flat, .. } | Fitted::Boosted { trees, flat, .. } = self {
            flat.before_call(trees, rows);
        }
    }

    /// The trees of a tree form (saved in `trees.bin`), if it is one.
    pub fn trees(&self) -> Option<&Ensemble> {
        match self {
            Fitted::Trees { trees, .. } | Fitted::Boosted { trees, .. } => Some(trees),
            _ => None,
        }
    }

    /// Read the trees of `trees.bin` into the form (tree forms) and check the form against the task and
    /// features.
    pub fn load_check(&mut self, cx: &LoadCheck) -> Result<(), ModelError> {
        match self {
            Fitted::Trees { trees, n_trees, .. } => trees::load(trees, *n_trees, cx),
            Fitted::Boosted {
                trees,
                n_trees,
                base_score,
                per_iteration,
                ..
            } => boosted::load(trees, *n_trees, base_score, *per_iteration, cx),
            Fitted::Linear {
                coef, intercept, ..
            } => linear::check(coef, intercept, cx),
            Fitted::Knn { k, x, y, .. } => knn::check(*k, x, y, cx),
            Fitted::GaussianNb {
                means,
                vars,
                priors,
                ..
            } => naive_bayes::check(means, vars, priors, cx),
        }
    }
}

#[cfg(test)]
mod tests;
