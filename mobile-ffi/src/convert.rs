//! Converting lists between core's types and the exported ones.

/// Converts every element of a list with its `From` conversion.
pub(crate) fn convert_all<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(U::from).collect()
}
