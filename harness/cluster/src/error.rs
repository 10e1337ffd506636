//! The one error type of the reference cluster: a message its owner
//! shows as it is.

/// Something the cluster could not do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClusterError(String);

impl ClusterError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
