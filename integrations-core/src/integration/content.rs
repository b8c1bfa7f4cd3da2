//! What an integration serves beyond plain JSON: rich results, resources,
//! prompts and completions. Shaped after MCP's types, so the bridge maps
//! them one to one, but free of any MCP dependency.

use base64::Engine;
use serde::{Deserialize, Serialize};

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One block of an action's result or of a prompt message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentBlock {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, base64-encoded.
    Image {
        /// The image's bytes, base64.
        data: String,
        /// Its media type, e.g. `image/png`.
        mime_type: String,
    },
    /// Audio, base64-encoded.
    Audio {
        /// The audio's bytes, base64.
        data: String,
        /// Its media type, e.g. `audio/wav`.
        mime_type: String,
    },
    /// A resource's contents, embedded.
    Resource {
        /// The contents.
        resource: ResourceContents,
    },
    /// A link to a resource the client can read.
    ResourceLink {
        /// The resource.
        resource: Resource,
    },
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    /// An image block of `bytes` (encoded here).
    pub fn image(bytes: &[u8], mime_type: impl Into<String>) -> Self {
        Self::Image {
            data: base64(bytes),
            mime_type: mime_type.into(),
        }
    }

    /// An audio block of `bytes` (encoded here).
    pub fn audio(bytes: &[u8], mime_type: impl Into<String>) -> Self {
        Self::Audio {
            data: base64(bytes),
            mime_type: mime_type.into(),
        }
    }

    /// An embedded resource.
    pub fn resource(resource: ResourceContents) -> Self {
        Self::Resource { resource }
    }

    /// A link to a resource.
    pub fn link(resource: Resource) -> Self {
        Self::ResourceLink { resource }
    }
}

/// A resource as listed: what a client can read with its `uri`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resource {
    /// Its URI, e.g. `inbox://messages/42`.
    pub uri: String,
    /// A short name.
    pub name: String,
    /// What it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

impl Resource {
    /// A resource with no description or media type.
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            name: name.into(),
            description: None,
            mime_type: None,
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the media type.
    #[must_use]
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }
}

/// A family of resources named by an RFC 6570 URI template, e.g.
/// `inbox://messages/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceTemplate {
    /// The URI template.
    pub uri_template: String,
    /// A short name.
    pub name: String,
    /// What its resources hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Their media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

impl ResourceTemplate {
    /// A template with no description or media type.
    pub fn new(uri_template: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            uri_template: uri_template.into(),
            name: name.into(),
            description: None,
            mime_type: None,
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the media type.
    #[must_use]
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// The values of the template's `{name}` segments in `uri`, when `uri`
    /// is one of its resources (simple expansions only).
    pub fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        let mut values = Vec::new();
        let mut rest = uri;
        let mut template = self.uri_template.as_str();
        while let Some(open) = template.find('{') {
            let literal = &template[..open];
            rest = rest.strip_prefix(literal)?;
            let close = template[open..].find('}')? + open;
            let name = &template[open + 1..close];
            template = &template[close + 1..];
            let end = match template.chars().next() {
                Some(next) => rest.find(next)?,
                None => rest.len(),
            };
            if end == 0 {
                return None;
            }
            values.push((name.to_owned(), rest[..end].to_owned()));
            rest = &rest[end..];
        }
        (rest == template).then_some(values)
    }
}

/// What a resource holds, as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceContents {
    /// The resource's URI.
    pub uri: String,
    /// Its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Text, or bytes (base64).
    pub body: ResourceBody,
}

/// The body of [`ResourceContents`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResourceBody {
    /// Text.
    Text(String),
    /// Bytes, base64.
    Blob(String),
}

impl ResourceContents {
    /// Text contents.
    pub fn text(
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            body: ResourceBody::Text(text.into()),
        }
    }

    /// Binary contents (encoded here).
    pub fn blob(uri: impl Into<String>, mime_type: impl Into<String>, bytes: &[u8]) -> Self {
        Self {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            body: ResourceBody::Blob(base64(bytes)),
        }
    }
}

/// A prompt template an integration offers: a client fills in its
/// arguments and gets messages to send to a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Prompt {
    /// Its name.
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<PromptArgument>,
}

impl Prompt {
    /// A prompt with no arguments.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: Some(description.into()),
            arguments: Vec::new(),
        }
    }

    /// Adds an argument.
    #[must_use]
    pub fn argument(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        required: bool,
    ) -> Self {
        self.arguments.push(PromptArgument {
            name: name.into(),
            description: Some(description.into()),
            required,
        });
        self
    }
}

/// An argument of a [`Prompt`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PromptArgument {
    /// Its name.
    pub name: String,
    /// What to give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it must be given.
    #[serde(default)]
    pub required: bool,
}

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// The user.
    User,
    /// The model.
    Assistant,
}

/// One message of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PromptMessage {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: ContentBlock,
}

impl PromptMessage {
    /// A message.
    pub fn new(role: Role, content: ContentBlock) -> Self {
        Self { role, content }
    }
}

/// What a completion request completes an argument of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CompletionTarget {
    /// An argument of the named prompt.
    Prompt(String),
    /// A `{name}` of the resource template with this URI template.
    ResourceTemplate(String),
    /// An argument of the named action (hosts' own forms; MCP clients
    /// complete prompts and resource templates only).
    Action(String),
}

/// Which of the optional parts of the [`Integration`](crate::Integration)
/// contract an integration serves, so that a server in front of it (the
/// MCP bridge) declares exactly those. Everything is off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Serves {
    /// `list_resources`, `resource_templates`, `read_resource`.
    pub resources: bool,
    /// Resource update notifications (from `tick`, see
    /// [`Notification::resource_updated`](crate::Notification::resource_updated)).
    pub subscriptions: bool,
    /// `prompts`, `get_prompt`.
    pub prompts: bool,
    /// `complete`.
    pub completions: bool,
    /// Log messages through the action context.
    pub logging: bool,
}

impl Serves {
    /// Nothing beyond actions.
    pub fn nothing() -> Self {
        Self::default()
    }

    /// Serves resources.
    #[must_use]
    pub fn resources(mut self) -> Self {
        self.resources = true;
        self
    }

    /// Serves resources and notifies their updates.
    #[must_use]
    pub fn subscriptions(mut self) -> Self {
        self.resources = true;
        self.subscriptions = true;
        self
    }

    /// Serves prompts.
    #[must_use]
    pub fn prompts(mut self) -> Self {
        self.prompts = true;
        self
    }

    /// Completes arguments.
    #[must_use]
    pub fn completions(mut self) -> Self {
        self.completions = true;
        self
    }

    /// Logs through the action context.
    #[must_use]
    pub fn logging(mut self) -> Self {
        self.logging = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_matches_its_resources_and_names_their_values() {
        let template = ResourceTemplate::new("test://template/{id}/data", "data");
        assert_eq!(
            template.matches("test://template/123/data"),
            Some(vec![("id".into(), "123".into())])
        );
        assert_eq!(template.matches("test://template//data"), None);
        assert_eq!(template.matches("test://template/123/other"), None);
        assert_eq!(template.matches("other://template/123/data"), None);
        let tail = ResourceTemplate::new("inbox://messages/{id}", "message");
        assert_eq!(
            tail.matches("inbox://messages/42"),
            Some(vec![("id".into(), "42".into())])
        );
    }
}
