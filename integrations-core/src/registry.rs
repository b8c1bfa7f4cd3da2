//! The [`Registry`]: integrations by id, and dispatch of `integration.action`.

use std::collections::HashMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::Value;

use crate::error::{Error, RegistryError, RuntimeError, panic_message};
use crate::id::IntegrationId;
use crate::integration::content::CompletionTarget;
use crate::integration::{Action, ActionContext, ActionResult, Capability, Integration};

/// Integrations by id, with their capabilities' schemas compiled once.
///
/// [`dispatch`](Self::dispatch) takes a target `integration.action` and JSON
/// arguments, and calls [`Integration::handle`] only when the integration
/// exists, declares the action, and the arguments satisfy its JSON Schema.
///
/// ```
/// # use std::sync::Arc;
/// # use integrations_core::{Action, ActionResult, BoxError, Capability, Error, Integration, Registry, async_trait};
/// # use integrations_core::error::RegistryError;
/// # use serde_json::json;
/// struct Echo;
///
/// #[async_trait]
/// impl Integration for Echo {
///     fn id(&self) -> &str { "echo" }
///     fn name(&self) -> &str { "Echo" }
///     fn capabilities(&self) -> Vec<Capability> {
///         vec![Capability::new("say", "Repeats `text`").with_parameters(json!({
///             "type": "object",
///             "properties": { "text": { "type": "string" } },
///             "required": ["text"]
///         }))]
///     }
///     async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
///         Ok(ActionResult::ok(action.arguments["text"].clone()))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut registry = Registry::new();
/// registry.register(Arc::new(Echo))?;
///
/// let result = registry.dispatch("echo.say", json!({"text": "hi"})).await?;
/// assert_eq!(result.output, json!("hi"));
///
/// let refused = registry.dispatch("echo.say", json!({"text": 7})).await;
/// assert!(matches!(refused, Err(Error::Registry(RegistryError::InvalidArguments { .. }))));
/// # Ok::<_, Error>(()) }).unwrap();
/// ```
#[derive(Default)]
pub struct Registry {
    entries: HashMap<IntegrationId, Entry>,
    order: Vec<IntegrationId>,
}

struct Entry {
    integration: Arc<dyn Integration>,
    capabilities: Vec<Capability>,
    validators: HashMap<String, jsonschema::Validator>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("integrations", &self.order)
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an integration, reading its capabilities and compiling their
    /// schemas.
    ///
    /// Refused when the id is invalid or already registered, when two
    /// capabilities share a name, or when a schema does not compile.
    pub fn register(&mut self, integration: Arc<dyn Integration>) -> Result<(), Error> {
        let id = IntegrationId::new(integration.id())?;
        if self.entries.contains_key(&id) {
            return Err(RegistryError::DuplicateIntegration { id }.into());
        }
        let capabilities = integration.capabilities();
        let mut validators = HashMap::with_capacity(capabilities.len());
        for capability in &capabilities {
            let validator = jsonschema::validator_for(&capability.parameters).map_err(|e| {
                Error::Registry(RegistryError::InvalidSchema {
                    integration: id.clone(),
                    capability: capability.name.clone(),
                    message: e.to_string(),
                })
            })?;
            if validators
                .insert(capability.name.clone(), validator)
                .is_some()
            {
                return Err(RegistryError::DuplicateCapability {
                    integration: id,
                    capability: capability.name.clone(),
                }
                .into());
            }
        }
        self.order.push(id.clone());
        self.entries.insert(
            id,
            Entry {
                integration,
                capabilities,
                validators,
            },
        );
        Ok(())
    }

    /// Removes an integration, returning it.
    pub fn remove(&mut self, id: &str) -> Option<Arc<dyn Integration>> {
        let entry = self.entries.remove(id)?;
        self.order.retain(|other| other.as_str() != id);
        Some(entry.integration)
    }

    /// The integration with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Integration>> {
        self.entries.get(id).map(|entry| &entry.integration)
    }

    /// The registered id equal to `id`.
    pub(crate) fn id(&self, id: &str) -> Option<&IntegrationId> {
        self.entries.get_key_value(id).map(|(id, _)| id)
    }

    /// The capabilities an integration declared when it was registered.
    pub fn capabilities(&self, id: &str) -> Option<&[Capability]> {
        self.entries.get(id).map(|entry| &entry.capabilities[..])
    }

    /// The registered ids, in registration order.
    pub fn ids(&self) -> &[IntegrationId] {
        &self.order
    }

    /// The integrations, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = (&IntegrationId, &Arc<dyn Integration>)> {
        self.order
            .iter()
            .map(|id| (id, &self.entries[id.as_str()].integration))
    }

    /// How many integrations are registered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no integration is registered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Checks a target and its arguments without calling the integration;
    /// returns the integration's id and the action's name.
    pub fn validate<'t>(
        &self,
        target: &'t str,
        arguments: &Value,
    ) -> Result<(&IntegrationId, &'t str), Error> {
        let (id, entry, action) = self.resolve(target)?;
        let validator = &entry.validators[action];
        if !validator.is_valid(arguments) {
            let errors = validator
                .iter_errors(arguments)
                .map(|e| {
                    let path = e.instance_path().to_string();
                    let path = if path.is_empty() { "/" } else { &path };
                    format!("{path}: {e}")
                })
                .collect();
            return Err(RegistryError::InvalidArguments {
                target: target.to_owned(),
                errors,
            }
            .into());
        }
        Ok((id, action))
    }

    /// Suggestions for `argument` of the action at `target`
    /// (`integration.action`), given what was typed so far (`value`), from
    /// the integration's [`complete`](Integration::complete): for a host's
    /// own forms (MCP clients complete prompt and resource template
    /// arguments, through the bridge).
    ///
    /// Errors: the target errors of [`dispatch`](Self::dispatch), and
    /// [`RuntimeError::Failed`] when the integration fails.
    pub async fn complete(
        &self,
        target: &str,
        argument: &str,
        value: &str,
    ) -> Result<Vec<String>, Error> {
        let (id, entry, action) = self.resolve(target)?;
        let what = CompletionTarget::Action(action.to_owned());
        entry
            .integration
            .complete(&what, argument, value)
            .await
            .map_err(|source| {
                RuntimeError::Failed {
                    integration: id.clone(),
                    operation: "complete",
                    source,
                }
                .into()
            })
    }

    /// The integration and action `target` names.
    fn resolve<'t>(&self, target: &'t str) -> Result<(&IntegrationId, &Entry, &'t str), Error> {
        let (id, action) = target
            .split_once('.')
            .filter(|(id, action)| !id.is_empty() && !action.is_empty())
            .ok_or_else(|| {
                Error::Registry(RegistryError::InvalidTarget {
                    target: target.to_owned(),
                })
            })?;
        let (id, entry) = self.entries.get_key_value(id).ok_or_else(|| {
            Error::Registry(RegistryError::UnknownIntegration { id: id.to_owned() })
        })?;
        if !entry.validators.contains_key(action) {
            return Err(RegistryError::UnknownAction {
                integration: id.clone(),
                action: action.to_owned(),
                available: entry.capabilities.iter().map(|c| c.name.clone()).collect(),
            }
            .into());
        }
        Ok((id, entry, action))
    }

    /// Validates and dispatches `integration.action` with `arguments`.
    ///
    /// Errors: [`RegistryError::InvalidTarget`], [`RegistryError::UnknownIntegration`],
    /// [`RegistryError::UnknownAction`] and [`RegistryError::InvalidArguments`] before the
    /// integration is called; [`RuntimeError::Failed`] when `handle` returns an
    /// error and [`RuntimeError::Panicked`] when it panics (the panic is contained).
    pub async fn dispatch(&self, target: &str, arguments: Value) -> Result<ActionResult, Error> {
        self.dispatch_with(target, arguments, ActionContext::default())
            .await
    }

    /// [`dispatch`](Self::dispatch), with the action running in `context`.
    pub async fn dispatch_with(
        &self,
        target: &str,
        arguments: Value,
        context: ActionContext,
    ) -> Result<ActionResult, Error> {
        let (id, action) = self.validate(target, &arguments)?;
        let integration = &self.entries[id.as_str()].integration;
        let call = integration.handle(Action::new(action, arguments).with_context(context));
        match AssertUnwindSafe(call).catch_unwind().await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(source)) => Err(RuntimeError::Failed {
                integration: id.clone(),
                operation: "handle",
                source,
            }
            .into()),
            Err(panic) => Err(RuntimeError::Panicked {
                integration: id.clone(),
                operation: "handle",
                message: panic_message(&*panic),
            }
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration::MockIntegration;
    use serde_json::json;

    fn mock(id: &'static str, capabilities: Vec<Capability>) -> MockIntegration {
        let mut mock = MockIntegration::new();
        mock.expect_id().return_const(id.to_owned());
        mock.expect_name().return_const(id.to_owned());
        mock.expect_capabilities().return_const(capabilities);
        mock
    }

    fn add_capability() -> Capability {
        Capability::new("add", "adds").with_parameters(json!({
            "type": "object",
            "properties": { "a": { "type": "number" }, "b": { "type": "number" } },
            "required": ["a", "b"],
            "additionalProperties": false
        }))
    }

    #[tokio::test]
    async fn invalid_arguments_never_reach_handle() {
        let mut m = mock("calc", vec![add_capability()]);
        m.expect_handle().never();
        let mut registry = Registry::new();
        registry.register(Arc::new(m)).unwrap();

        let err = registry
            .dispatch("calc.add", json!({"a": "one", "c": 1}))
            .await
            .unwrap_err();
        let Error::Registry(RegistryError::InvalidArguments { target, errors }) = err else {
            panic!("expected InvalidArguments, got {err:?}");
        };
        assert_eq!(target, "calc.add");
        assert!(errors.iter().any(|e| e.starts_with("/a:")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("\"b\"")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("'c'")), "{errors:?}");
    }

    #[tokio::test]
    async fn valid_arguments_reach_handle_with_action_name() {
        let mut m = mock("calc", vec![add_capability()]);
        m.expect_handle()
            .withf(|action| action.name == "add" && action.arguments == json!({"a": 1, "b": 2}))
            .times(1)
            .returning(|_| Ok(ActionResult::ok(json!(3))));
        let mut registry = Registry::new();
        registry.register(Arc::new(m)).unwrap();
        let result = registry
            .dispatch("calc.add", json!({"a": 1, "b": 2}))
            .await
            .unwrap();
        assert_eq!(result, ActionResult::ok(json!(3)));
    }

    #[tokio::test]
    async fn unknown_targets_have_their_own_errors() {
        let mut registry = Registry::new();
        registry
            .register(Arc::new(mock("calc", vec![add_capability()])))
            .unwrap();
        for (target, check) in [
            ("calc", "InvalidTarget"),
            (".add", "InvalidTarget"),
            ("calc.", "InvalidTarget"),
            ("nope.add", "UnknownIntegration"),
            ("calc.sub", "UnknownAction"),
        ] {
            let err = registry.dispatch(target, json!({})).await.unwrap_err();
            let name = match &err {
                Error::Registry(RegistryError::InvalidTarget { .. }) => "InvalidTarget",
                Error::Registry(RegistryError::UnknownIntegration { id }) => {
                    assert_eq!(id, "nope");
                    "UnknownIntegration"
                }
                Error::Registry(RegistryError::UnknownAction {
                    action, available, ..
                }) => {
                    assert_eq!(action, "sub");
                    assert_eq!(available, &["add"]);
                    "UnknownAction"
                }
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(name, check, "target {target}");
        }
    }

    #[tokio::test]
    async fn handle_errors_and_panics_are_contained() {
        let mut m = mock(
            "flaky",
            vec![
                Capability::new("fail", "fails"),
                Capability::new("boom", "panics"),
            ],
        );
        m.expect_handle().returning(|action| {
            if action.name == "boom" {
                panic!("kaboom");
            }
            Err("backend down".into())
        });
        let mut registry = Registry::new();
        registry.register(Arc::new(m)).unwrap();

        let err = registry
            .dispatch("flaky.fail", json!({}))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Runtime(RuntimeError::Failed {
                operation: "handle",
                ..
            })
        ));
        assert_eq!(
            std::error::Error::source(&err).unwrap().to_string(),
            "backend down"
        );
        let err = registry
            .dispatch("flaky.boom", json!({}))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Runtime(RuntimeError::Panicked { message, .. }) if message == "kaboom"),
            "{err:?}"
        );
    }

    #[test]
    fn registration_refuses_bad_integrations() {
        let mut registry = Registry::new();
        registry.register(Arc::new(mock("a", vec![]))).unwrap();
        assert!(matches!(
            registry.register(Arc::new(mock("a", vec![]))),
            Err(Error::Registry(RegistryError::DuplicateIntegration { .. }))
        ));
        assert!(matches!(
            registry.register(Arc::new(mock("a.b", vec![]))),
            Err(Error::InvalidId { .. })
        ));
        let bad_schema = Capability::new("x", "x").with_parameters(json!({"type": 12}));
        assert!(matches!(
            registry.register(Arc::new(mock("b", vec![bad_schema]))),
            Err(Error::Registry(RegistryError::InvalidSchema { .. }))
        ));
        let twice = vec![Capability::new("x", "x"), Capability::new("x", "y")];
        assert!(matches!(
            registry.register(Arc::new(mock("c", twice))),
            Err(Error::Registry(RegistryError::DuplicateCapability { .. }))
        ));
        assert_eq!(registry.ids(), &[IntegrationId::new("a").unwrap()]);
        assert!(registry.remove("a").is_some());
        assert!(registry.is_empty());
    }
}
