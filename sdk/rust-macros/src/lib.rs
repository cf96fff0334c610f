//! `#[lever_sdk::action(...)]`: turns one function into an exported Lever action component.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{
    Expr, ExprLit, FnArg, GenericArgument, ItemFn, Lit, MetaNameValue, PathArguments, ReturnType,
    Token, Type,
};

/// Exports the annotated `fn(&Context, Input) -> Result<Output, ActionError>` as a Lever action.
///
/// Arguments: `name`, `version`, `description` (strings, required); `hosts` and `secrets`
/// (arrays of strings); `workspace` (`true` for the run's workspace at `/workspace`); `risk`
/// (`"standard"` or `"high"`); `plan` and `rollback` (function names).
#[proc_macro_attribute]
pub fn action(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct Args {
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    hosts: Vec<String>,
    secrets: Vec<String>,
    workspace: bool,
    high_risk: bool,
    plan: Option<syn::Path>,
    rollback: Option<syn::Path>,
}

fn string(expr: &Expr) -> syn::Result<String> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.value()),
        other => Err(syn::Error::new_spanned(other, "expected a string literal")),
    }
}

fn strings(expr: &Expr) -> syn::Result<Vec<String>> {
    match expr {
        Expr::Array(array) => array.elems.iter().map(string).collect(),
        other => Err(syn::Error::new_spanned(
            other,
            "expected an array of string literals",
        )),
    }
}

fn path(expr: &Expr) -> syn::Result<syn::Path> {
    match expr {
        Expr::Path(p) => Ok(p.path.clone()),
        other => Err(syn::Error::new_spanned(other, "expected a function name")),
    }
}

fn parse_args(tokens: Tokens) -> syn::Result<Args> {
    let metas = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(tokens)?;
    let mut args = Args::default();
    for meta in metas {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match key.as_str() {
            "name" => args.name = Some(string(&meta.value)?),
            "version" => args.version = Some(string(&meta.value)?),
            "description" => args.description = Some(string(&meta.value)?),
            "hosts" => args.hosts = strings(&meta.value)?,
            "secrets" => args.secrets = strings(&meta.value)?,
            "workspace" => {
                args.workspace = match &meta.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Bool(b),
                        ..
                    }) => b.value,
                    other => {
                        return Err(syn::Error::new_spanned(other, "workspace is true or false"));
                    }
                }
            }
            "risk" => {
                args.high_risk = match string(&meta.value)?.as_str() {
                    "high" => true,
                    "standard" => false,
                    _ => {
                        return Err(syn::Error::new_spanned(
                            &meta.value,
                            "risk is \"standard\" or \"high\"",
                        ));
                    }
                }
            }
            "plan" => args.plan = Some(path(&meta.value)?),
            "rollback" => args.rollback = Some(path(&meta.value)?),
            _ => {
                return Err(syn::Error::new_spanned(
                    &meta.path,
                    "unknown argument; expected name, version, description, hosts, secrets, workspace, risk, plan or rollback",
                ));
            }
        }
    }
    Ok(args)
}

/// The `T` of the function's second parameter and the `O` of its `Result<O, _>`.
fn io_types(f: &ItemFn) -> syn::Result<(Type, Type)> {
    let input = match f.sig.inputs.iter().nth(1) {
        Some(FnArg::Typed(pat)) => (*pat.ty).clone(),
        _ => {
            return Err(syn::Error::new_spanned(
                &f.sig,
                "an action is `fn(&Context, Input) -> Result<Output, ActionError>`",
            ));
        }
    };
    let output = match &f.sig.output {
        ReturnType::Type(_, ty) => match &**ty {
            Type::Path(p) => p.path.segments.last().and_then(|seg| match &seg.arguments {
                PathArguments::AngleBracketed(a) => a.args.first().and_then(|g| match g {
                    GenericArgument::Type(t) => Some(t.clone()),
                    _ => None,
                }),
                _ => None,
            }),
            _ => None,
        },
        ReturnType::Default => None,
    };
    let output = output.ok_or_else(|| {
        syn::Error::new_spanned(
            &f.sig.output,
            "an action returns `Result<Output, ActionError>`",
        )
    })?;
    Ok((input, output))
}

fn expand(args: Tokens, item: Tokens) -> syn::Result<Tokens> {
    let f: ItemFn = syn::parse2(item)?;
    let args = parse_args(args)?;
    let missing = |what: &str| {
        syn::Error::new_spanned(&f.sig.ident, format!("#[action] needs `{what} = \"...\"`"))
    };
    let name = args.name.clone().ok_or_else(|| missing("name"))?;
    let version = args.version.clone().ok_or_else(|| missing("version"))?;
    let description = args
        .description
        .clone()
        .ok_or_else(|| missing("description"))?;
    let (input_ty, output_ty) = io_types(&f)?;
    let run_fn = &f.sig.ident;
    let hosts = &args.hosts;
    let secrets = &args.secrets;
    let high_risk = args.high_risk;
    let workspace = args.workspace;
    let undoable = args.rollback.is_some();
    let plan_body = match &args.plan {
        Some(p) => quote!(::lever_sdk::__private::plan::<#input_ty>(ctx, &input, #p)),
        None => quote!({
            let _ = (ctx, input);
            Ok(None)
        }),
    };
    let rollback_body = match &args.rollback {
        Some(p) => {
            quote!(::lever_sdk::__private::rollback::<#input_ty, #output_ty>(ctx, &input, &output, #p))
        }
        None => quote!({
            let _ = (ctx, input, output);
            Ok(())
        }),
    };
    Ok(quote! {
        #f

        #[doc(hidden)]
        struct __LeverAction;

        impl ::lever_sdk::bindings::exports::lever::plugin::action_handler::Guest for __LeverAction {
            fn describe() -> ::lever_sdk::bindings::lever::plugin::types::Manifest {
                ::lever_sdk::__private::manifest::<#input_ty, #output_ty>(
                    #name, #version, #description, &[#(#hosts),*], &[#(#secrets),*], #workspace, #high_risk, #undoable,
                )
            }
            fn plan(
                ctx: ::lever_sdk::bindings::lever::plugin::types::Context,
                input: ::std::string::String,
            ) -> ::std::result::Result<
                ::std::option::Option<::lever_sdk::bindings::lever::plugin::types::ExecutionPlan>,
                ::lever_sdk::bindings::lever::plugin::types::Error,
            > {
                #plan_body
            }
            fn run(
                ctx: ::lever_sdk::bindings::lever::plugin::types::Context,
                input: ::std::string::String,
            ) -> ::std::result::Result<::std::string::String, ::lever_sdk::bindings::lever::plugin::types::Error> {
                ::lever_sdk::__private::run::<#input_ty, #output_ty>(ctx, &input, #run_fn)
            }
            fn rollback(
                ctx: ::lever_sdk::bindings::lever::plugin::types::Context,
                input: ::std::string::String,
                output: ::std::string::String,
            ) -> ::std::result::Result<(), ::lever_sdk::bindings::lever::plugin::types::Error> {
                #rollback_body
            }
        }

        ::lever_sdk::bindings::export!(__LeverAction with_types_in ::lever_sdk::bindings);
    })
}
