//! A real headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`):
//! one `chromedriver` process per test, killed when dropped, and screenshots under
//! `target/screenshots/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::repo_root;

/// A running chromedriver.
pub struct Driver {
    child: Child,
    url: String,
    _profiles: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it answers.
    pub async fn start() -> Driver {
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = free_port();
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} ({e}): install Debian's chromium and chromium-driver (.ci/run does)")
            });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{url}/status")).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver {
            child,
            url,
            _profiles: tempfile::tempdir().expect("profiles dir"),
        }
    }

    /// A new browser (its own profile, so its own cookies), 1200×900 unless `width` says.
    pub async fn browser(&self, width: u32) -> Browser {
        let profile = tempfile::tempdir_in(self._profiles.path()).expect("profile dir");
        let mut caps = serde_json::Map::new();
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    format!("--window-size={width},900"),
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        // chromedriver is on loopback: plain HTTP, no TLS stack.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a WebDriver session in headless Chromium");
        Browser {
            client,
            _profile: profile,
        }
    }
}

/// One browser window.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    _profile: tempfile::TempDir,
}

/// Where screenshots go.
pub fn screenshots_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    dir
}

impl Browser {
    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The page's address now.
    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("current url")
            .to_string()
    }

    /// Saves screenshots of the page as a desktop and as a phone show it:
    /// `target/screenshots/NAME.png` 1280 px wide and `NAME-420px.png` 420 px wide; the window
    /// gets its own size back afterwards.
    pub async fn shot(&self, name: &str) {
        let (_, _, width, height) = self.client.get_window_rect().await.expect("window size");
        for (wide, file) in [
            (1280, format!("{name}.png")),
            (420, format!("{name}-420px.png")),
        ] {
            self.client
                .set_window_size(wide, height as u32)
                .await
                .expect("resize the window");
            let png = self.client.screenshot().await.expect("screenshot");
            std::fs::write(screenshots_dir().join(file), png).expect("save screenshot");
        }
        self.client
            .set_window_size(width as u32, height as u32)
            .await
            .expect("restore the window");
    }

    /// Waits (at most 20 s) until `css` matches an element, and returns it.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}`: {e}"))
    }

    /// Whether `css` matches an element now.
    pub async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Clicks the element `css`.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    /// Replaces the text of input `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.expect("clear input");
        input.send_keys(text).await.expect("type");
    }

    /// Presses Enter in the element `css`, keeping what it holds.
    pub async fn press_enter(&self, css: &str) {
        self.find(css)
            .await
            .send_keys("\u{E007}")
            .await
            .unwrap_or_else(|e| panic!("Enter in `{css}`: {e}"));
    }

    /// The value of attribute `name` of `css`, if it has one.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.expect("attribute")
    }

    /// The id of the element that has the keyboard focus.
    pub async fn focused_id(&self) -> String {
        let element = self.client.active_element().await.expect("active element");
        element.attr("id").await.ok().flatten().unwrap_or_default()
    }

    /// Waits (at most `secs`) until the element with id `id` has the keyboard focus.
    pub async fn wait_focus(&self, id: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let focused = self.focused_id().await;
            if focused == id {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{id}` never had the focus; `{focused}` has it"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// The `value` property of `css` (hidden elements too).
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    /// Waits (at most `secs`) until the text of `css` satisfies `check`; returns it.
    pub async fn wait_text(&self, css: &str, secs: u64, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if check(&text) {
                return text;
            }
            if Instant::now() > deadline {
                let source = self.client.source().await.unwrap_or_default();
                panic!("`{css}` never satisfied the check; last text {text:?}; page:\n{source}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `css` matches an element whose attribute `name` is `value`.
    pub async fn wait_attr(&self, css: &str, name: &str, value: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await
                && e.attr(name).await.ok().flatten().as_deref() == Some(value)
            {
                return;
            }
            if Instant::now() > deadline {
                let source = self.client.source().await.unwrap_or_default();
                panic!("`{css}` never had {name}={value}; page:\n{source}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page's HTML.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("page source")
    }

    /// Signs in through the demo list as `user`.
    pub async fn sign_in_as(&self, base: &str, user: &str) {
        self.goto(&format!("{base}/sign-in")).await;
        self.click(&format!("#as-{user}")).await;
        self.find("#signed-in-as").await;
    }

    /// Ends the WebDriver session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// axe-core's script (npm `axe-core`, installed globally by `scripts/test.sh`): `AXE_CORE`
/// names the file, else it is found under `npm root -g`.
fn axe_source() -> String {
    let path = std::env::var("AXE_CORE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let root = std::process::Command::new("npm")
                .args(["root", "-g"])
                .output()
                .expect("npm runs");
            PathBuf::from(String::from_utf8_lossy(&root.stdout).trim()).join("axe-core/axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is not at {} ({e}): npm install --global axe-core",
            path.display()
        )
    })
}

/// One rule axe-core found broken on a page.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Violation {
    /// The rule (`color-contrast`, `label`…).
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: Option<String>,
    /// What the rule asks for.
    pub help: String,
    /// The first elements that break it.
    pub targets: Vec<String>,
}

impl Browser {
    /// Runs axe-core's WCAG 2.x A and AA rules on the page as it is now.
    pub async fn audit(&self) -> Vec<Violation> {
        self.client
            .execute(&axe_source(), vec![])
            .await
            .expect("axe-core loads");
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})
                   .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                       targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))
                   .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), targets: []}]));",
                vec![],
            )
            .await
            .expect("axe-core runs");
        serde_json::from_value(found).expect("axe-core's violations")
    }
}
