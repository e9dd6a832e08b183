//! Reading columns out of `AnyRow`s with typed errors.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::Result;

pub(crate) fn s(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(crate) fn os(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

pub(crate) fn i(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}

pub(crate) fn oi(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

pub(crate) fn b(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(i(row, col)? != 0)
}
