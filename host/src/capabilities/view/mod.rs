//! `view`: what a program shows, and its page stack.
//!
//! A program hands the host a declarative [`View`] (`render`); the host checks it
//! ([`decode`]) and keeps it as the view of the page on top of the program's
//! [`Screen`]. `navigate`, `redirect` and `back` change the page stack (bounded,
//! 10 pages by default, as in WeChat); after the callback that changed it, the
//! host sends the program a `page` event so it renders the page now on top. How a
//! view is drawn is the front end's business; [`reading`] is how every front end reads it.
//!
//! A view that does not decode is refused with an error naming the place in the
//! tree; the screen keeps the last good view, and the developer sees the error.

pub mod decode;
pub mod reading;
mod settings;
pub mod tree;

pub use settings::ViewSettings;

use crate::capability::{
    CallContext, Capability, DeclarationError, Grant, HostFunction, InitContext, SessionData, request_text,
};
use crate::error::HostError;
use miniapp_abi::lifecycle::{Event, LaunchContext};
use miniapp_abi::view::{BackRequest, Page, PageReason, PageRequest, StackReply, View};
use miniapp_abi::{ApiError, ErrorCode};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The view capability.
pub struct Views {
    settings: ViewSettings,
}

/// What a program that declares `view` gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewGrant {
    /// Its page stack's depth.
    pub max_pages: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ViewParams {
    max_pages: Option<u32>,
}

/// Makes the view capability from `[view]`.
pub fn init(context: &InitContext<'_>) -> Result<Arc<dyn Capability>, HostError> {
    Ok(Arc::new(Views::new(context.settings(miniapp_abi::view::CAPABILITY)?)))
}

impl Views {
    /// The capability under the host's view limits.
    pub fn new(settings: ViewSettings) -> Views {
        Views { settings }
    }

    /// Reads the view from the request's text itself (not through a general JSON
    /// value): it is the widest message a program sends, every render.
    async fn render(self: Arc<Self>, context: CallContext, request: Vec<u8>) -> Result<(), ApiError> {
        let screen = Screen::of_call(&context)?;
        match decode::decode_view(request_text(&request)?, &self.settings) {
            Ok(view) => {
                screen.set_view(view);
                Ok(())
            }
            Err(error) => {
                // The developer must see this even if the program ignores the error.
                context.session().output.notice(miniapp_abi::view::CAPABILITY, format!("view refused: {error}"));
                Err(ApiError::invalid_argument(format!("view refused: {error}")))
            }
        }
    }

    async fn navigate(self: Arc<Self>, context: CallContext, request: PageRequest) -> Result<StackReply, ApiError> {
        let page = check_page(request)?;
        Screen::of_call(&context)?.change(PageReason::Navigate, Some(page), 0)
    }

    async fn redirect(self: Arc<Self>, context: CallContext, request: PageRequest) -> Result<StackReply, ApiError> {
        let page = check_page(request)?;
        Screen::of_call(&context)?.change(PageReason::Redirect, Some(page), 0)
    }

    async fn back(self: Arc<Self>, context: CallContext, request: BackRequest) -> Result<StackReply, ApiError> {
        Screen::of_call(&context)?.change(PageReason::Back, None, request.pages)
    }
}

impl Capability for Views {
    fn name(&self) -> &'static str {
        miniapp_abi::view::CAPABILITY
    }

    fn declare(&self, params: &toml::Table) -> Result<Grant, DeclarationError> {
        let params: ViewParams = DeclarationError::decode(params)?;
        let max_pages = params.max_pages.unwrap_or(self.settings.max_pages);
        if max_pages == 0 || max_pages > self.settings.max_pages {
            return Err(DeclarationError::new(
                "max_pages",
                format!("must be 1 to {} (the host's page stack depth), is {max_pages}", self.settings.max_pages),
            ));
        }
        Ok(Arc::new(ViewGrant { max_pages }))
    }

    fn prepare(&self, grant: &Grant) -> Option<SessionData> {
        let grant = grant.downcast_ref::<ViewGrant>()?;
        Some(Arc::new(Screen::new(grant.max_pages)))
    }

    /// ABI §6.7: the page stack starts at the launch page.
    fn on_launch(&self, data: &SessionData, context: &LaunchContext) {
        if let Some(screen) = data.downcast_ref::<Screen>() {
            screen.reset(Page { path: context.path.clone(), query: context.query.clone() });
        }
    }

    /// ABI §6.7: after a callback changed the page stack, a `page` event tells the
    /// program which page is now on top.
    fn follow_up(&self, data: &SessionData) -> Option<Event> {
        let (reason, page) = data.downcast_ref::<Screen>()?.take_pending()?;
        Some(Event::Page { reason, path: page.path, query: page.query })
    }

    fn functions(self: Arc<Self>) -> Vec<HostFunction> {
        vec![
            HostFunction::raw_method("render", &self, Views::render),
            HostFunction::method("navigate", &self, Views::navigate),
            HostFunction::method("redirect", &self, Views::redirect),
            HostFunction::method("back", &self, Views::back),
        ]
    }
}

fn check_page(request: PageRequest) -> Result<Page, ApiError> {
    let path = &request.path;
    let ok = !path.is_empty()
        && path.len() <= 128
        && !path.starts_with('/')
        && !path.contains("//")
        && path.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-/".contains(&b));
    if !ok {
        return Err(ApiError::invalid_argument(format!(
            "path: `{}` is not a page path (1 to 128 of a-z 0-9 _ - /, not starting with /)",
            path.escape_debug()
        )));
    }
    if request.query.len() > 16 {
        return Err(ApiError::invalid_argument(format!("query: {} parameters; at most 16", request.query.len())));
    }
    for (key, value) in &request.query {
        for (what, text) in [("key", key), ("value", value)] {
            decode::check_text(text, false, 256).map_err(|message| {
                ApiError::invalid_argument(format!("query {what} `{}`: {message}", key.escape_debug()))
            })?;
        }
    }
    Ok(Page { path: request.path, query: request.query })
}

/// One page of the stack: where it came from and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PageEntry {
    /// Its path and query.
    pub page: Page,
    /// The last view the program rendered for it, if any.
    pub view: Option<View>,
}

/// A program's screen: its page stack, the view of each page, and the page
/// change the program asked for that the host has not yet told it about.
#[derive(Debug)]
pub struct Screen {
    state: Mutex<ScreenState>,
}

#[derive(Debug)]
struct ScreenState {
    max_pages: u32,
    stack: Vec<PageEntry>,
    pending: Option<PageReason>,
    /// Bumped on every change, so a host redraws only when something changed.
    version: u64,
}

impl Screen {
    fn new(max_pages: u32) -> Screen {
        let home = PageEntry { page: Page { path: String::new(), query: BTreeMap::new() }, view: None };
        Screen { state: Mutex::new(ScreenState { max_pages, stack: vec![home], pending: None, version: 0 }) }
    }

    fn of_call(context: &CallContext) -> Result<Arc<Screen>, ApiError> {
        context.data::<Screen>()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ScreenState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts over with one page (at launch).
    pub fn reset(&self, page: Page) {
        let mut state = self.lock();
        state.stack = vec![PageEntry { page, view: None }];
        state.pending = None;
        state.version += 1;
    }

    fn set_view(&self, view: View) {
        let mut state = self.lock();
        if let Some(top) = state.stack.last_mut() {
            top.view = Some(view);
        }
        state.version += 1;
    }

    /// Pushes, replaces or pops pages. `back` closes `pages` pages but never the first.
    fn change(&self, reason: PageReason, page: Option<Page>, pages: u32) -> Result<StackReply, ApiError> {
        let mut state = self.lock();
        let depth = state.stack.len() as u32;
        match (reason, page) {
            (PageReason::Navigate, Some(page)) => {
                if depth >= state.max_pages {
                    return Err(ApiError::new(
                        ErrorCode::LimitExceeded,
                        format!("the page stack is full ({} pages); redirect or go back first", state.max_pages),
                    ));
                }
                state.stack.push(PageEntry { page, view: None });
            }
            (PageReason::Redirect, Some(page)) => {
                if let Some(top) = state.stack.last_mut() {
                    *top = PageEntry { page, view: None };
                }
            }
            (PageReason::Back, _) => {
                if depth <= 1 {
                    return Err(ApiError::invalid_argument(
                        "already on the first page; there is nothing to go back to",
                    ));
                }
                let keep = depth.saturating_sub(pages.max(1)).max(1) as usize;
                state.stack.truncate(keep);
            }
            _ => return Err(ApiError::internal("unexpected page change")),
        }
        state.pending = Some(reason);
        state.version += 1;
        Ok(StackReply { depth: state.stack.len() as u32, max_depth: state.max_pages })
    }

    /// The user pressed the host's back button: closes the top page. Returns false
    /// on the first page.
    pub fn user_back(&self) -> bool {
        self.change(PageReason::Back, None, 1).is_ok()
    }

    /// Takes the page change the program made and was not yet told about, with
    /// the page now on top.
    pub fn take_pending(&self) -> Option<(PageReason, Page)> {
        let mut state = self.lock();
        let reason = state.pending.take()?;
        let top = state.stack.last()?.page.clone();
        Some((reason, top))
    }

    /// The page on top, with the number of pages on the stack.
    pub fn top(&self) -> (PageEntry, u32) {
        let state = self.lock();
        let depth = state.stack.len() as u32;
        let top = state.stack.last().cloned();
        (top.unwrap_or(PageEntry { page: Page { path: String::new(), query: BTreeMap::new() }, view: None }), depth)
    }

    /// The pages on the stack, first page first (for a front end that shows the stack).
    pub fn pages(&self) -> Vec<Page> {
        self.lock().stack.iter().map(|entry| entry.page.clone()).collect()
    }

    /// The stack's limit.
    pub fn max_pages(&self) -> u32 {
        self.lock().max_pages
    }

    /// A number that changes whenever the stack or a view changes.
    pub fn version(&self) -> u64 {
        self.lock().version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(path: &str) -> Page {
        Page { path: path.into(), query: BTreeMap::new() }
    }

    #[test]
    fn the_page_stack_is_bounded_and_keeps_its_first_page() {
        let screen = Screen::new(3);
        screen.reset(page("pages/index"));
        assert_eq!(screen.change(PageReason::Navigate, Some(page("a")), 0).unwrap().depth, 2);
        assert_eq!(screen.take_pending(), Some((PageReason::Navigate, page("a"))));
        assert_eq!(screen.take_pending(), None);
        screen.change(PageReason::Navigate, Some(page("b")), 0).unwrap();
        let full = screen.change(PageReason::Navigate, Some(page("c")), 0).unwrap_err();
        assert_eq!(full.code, ErrorCode::LimitExceeded);
        assert_eq!(screen.change(PageReason::Redirect, Some(page("c")), 0).unwrap().depth, 3);
        assert_eq!(screen.top().0.page, page("c"));
        assert_eq!(screen.change(PageReason::Back, None, 99).unwrap().depth, 1);
        assert_eq!(screen.top().0.page, page("pages/index"));
        assert!(!screen.user_back());
    }

    #[test]
    fn page_paths_are_checked() {
        for bad in ["", "/pages/a", "pages//a", "Pages/A", "pages/a?x=1", &"a".repeat(129)] {
            let request = PageRequest { path: bad.into(), query: BTreeMap::new() };
            assert_eq!(check_page(request).unwrap_err().code, ErrorCode::InvalidArgument, "{bad}");
        }
        let request = PageRequest { path: "pages/item".into(), query: [("id".into(), "1042".into())].into() };
        assert!(check_page(request).is_ok());
    }
}
