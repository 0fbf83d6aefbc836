//! The seed's signup page: its template and how flash messages are rendered into it.

use session_flash::FlashView;

/// The seed's `templates/signup.tmpl`, as a minijinja template: the latest message of each
/// level, in the seed's order.
pub const SIGNUP_TEMPLATE: &str = "<h2>{{ Flash.SuccessMsg }}</h2>
<h2>{{ Flash.ErrorMsg }}</h2>
<h2>{{ Flash.InfoMsg }}</h2>
<h2>{{ Flash.WarningMsg }}</h2>
";

/// Renders the signup page for `view`, with HTML escaping: message text is data, never
/// markup.
pub fn render_signup(view: &FlashView) -> Result<String, minijinja::Error> {
    // The `.html` name is what turns minijinja's autoescaping on.
    minijinja::Environment::new().render_named_str(
        "signup.html",
        SIGNUP_TEMPLATE,
        minijinja::context! { Flash => view },
    )
}

#[cfg(test)]
mod tests {
    use session_flash::{Level, Message};

    use super::*;

    #[test]
    fn an_empty_view_renders_four_empty_headings() {
        assert_eq!(
            render_signup(&FlashView::default()).unwrap().trim_end(),
            "<h2></h2>\n<h2></h2>\n<h2></h2>\n<h2></h2>"
        );
    }

    #[test]
    fn the_latest_message_of_each_level_is_shown_escaped() {
        let view = FlashView::from_messages(vec![
            Message::new(Level::Success, "yes!!!"),
            Message::new(Level::Info, "older"),
            Message::new(Level::Error, "<script>alert(1)</script>"),
            Message::new(Level::Info, "aha?!"),
            Message::new(Level::Warning, "Just be careful."),
        ]);
        assert_eq!(
            render_signup(&view).unwrap().trim_end(),
            "<h2>yes!!!</h2>\n<h2>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</h2>\n\
             <h2>aha?!</h2>\n<h2>Just be careful.</h2>"
        );
    }
}
