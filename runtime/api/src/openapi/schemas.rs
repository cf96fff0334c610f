//! Request bodies the handlers read as raw bytes, described for the document: a plugin's
//! component and a template bundle. Every answer is a type of its own, serialised by its
//! handler and described from the same definition (the application layer's `lever_service`
//! types, the store's records, [`crate::ErrorBody`]), so the document cannot drift from the
//! answers; schemathesis checks a live server against it in CI.

// Only described, never built: their handlers take the body as bytes.
#![allow(dead_code)]

use utoipa::ToSchema;

pub(crate) use crate::error::ErrorBody;

/// A WebAssembly component's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct Component(Vec<u8>);

/// A template bundle: a tar, tar.gz or zip archive of the template and its files.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct TemplateBundle(Vec<u8>);
