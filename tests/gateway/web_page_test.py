#!/usr/bin/env python3
"""The gateway's web page in a real browser (headless Chromium via Selenium).

Loads the page the gateway serves at /, then does what a person would:
  * asks for recommendations for a toy user and sees titles, categories,
    scores, the path, the degraded flag and the model version;
  * presses "Clicked" on the first item: the status line says the feedback
    was recorded (with its sequence number), the list refreshes without that
    item and highlights the item(s) that came in; the history shows the click;
  * records an event for an unknown item and sees the API's 404 error body;
  * opens "More like this" (content and collaborative lists);
  * searches for the words of one toy title (the top result must have them
    all in its title), and a query carrying HTML markup,
    which must come back as text;
  * asks a question and sees the answer, its mode and cited items with
    snippets (with --ask optional, a clear "not available" message passes);
  * with "Debug" ticked the stage timings show;
  * an unknown user gets a cold-start answer with its note; the recent users
    are offered again after a reload (localStorage);
  * at 390x844 (a phone) nothing overflows horizontally and the panels stack;
  * with --token-base (a gateway that checks tokens): 401 shown without a
    token, 403 for a read token's feedback and history, the admin token from
    the token field works and is kept across a reload;
  * the browser logged no JavaScript error and no failed request other than
    the deliberate ones.
Prints one "ok ..." line per check; exits 0 when all pass, 1 otherwise.

  web_page_test.py --base http://127.0.0.1:PORT --work DIR --user u0
                   [--ask required|optional] [--shots DIR]
                   [--token-base URL --read-token T --admin-token T]
"""
import argparse
import json
import os
import re
import sys
import time
import traceback

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 30
PHONE = (390, 844)
PATHS = {"PATH_FULL", "PATH_RETRIEVAL_ONLY", "PATH_TRENDING_FALLBACK", "PATH_COLD_START"}

# Records script errors and unhandled promise rejections from the first line
# of every document on: the browser log is the other source.
ERROR_HOOK = """
window.__pageErrors = [];
window.addEventListener('error', (e) => {
  if (e.target && e.target !== window && e.target.tagName) {
    window.__pageErrors.push('failed to load ' + e.target.tagName + ' ' + (e.target.src || e.target.href || ''));
  } else {
    window.__pageErrors.push('error: ' + e.message + ' at ' + e.filename + ':' + e.lineno);
  }
}, true);
window.addEventListener('unhandledrejection', (e) => {
  window.__pageErrors.push('unhandled rejection: ' + String(e.reason && (e.reason.stack || e.reason)));
});
"""


class Check(Exception):
    pass


def ok(msg):
    print(f"ok {msg}", flush=True)


def make_driver(work):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-sync", "--disable-translate",
                "--metrics-recording-only", "--password-store=basic", "--window-size=1280,900",
                f"--user-data-dir={os.path.join(work, 'chrome-profile')}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service("/usr/bin/chromedriver", log_path=os.path.join(work, "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(WAIT_S)
    driver.set_script_timeout(WAIT_S)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ERROR_HOOK})
    return driver


class Page:
    def __init__(self, driver, base, shots):
        self.d = driver
        self.base = base.rstrip("/")
        self.shots = shots
        self.browser_log = []

    def wait(self, cond, what, timeout=WAIT_S):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1).until(lambda d: cond())
        except TimeoutException:
            raise Check(f"timed out after {timeout}s waiting for {what}") from None

    def by_id(self, id_):
        return self.d.find_element(By.ID, id_)

    def text(self, id_):
        return self.by_id(id_).text

    def testids(self, parent_id, testid):
        return self.d.find_elements(By.CSS_SELECTOR, f'#{parent_id} [data-testid="{testid}"]')

    def item_ids(self, parent_id, testid):
        return [e.get_attribute("data-item-id") for e in self.testids(parent_id, testid)]

    def state(self, panel):
        return self.by_id(panel).get_attribute("data-state")

    def fill(self, id_, value):
        e = self.by_id(id_)
        e.clear()
        e.send_keys(value)

    def click(self, element):
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.click()

    def submit(self, button_id):
        self.click(self.by_id(button_id))

    def shot(self, name):
        if not self.shots:
            return
        os.makedirs(self.shots, exist_ok=True)
        path = os.path.join(self.shots, f"{name}.png")
        self.d.save_screenshot(path)
        print(f"   screenshot {path}", flush=True)

    def collect_log(self):
        try:
            self.browser_log.extend(self.d.get_log("browser"))
        except WebDriverException as e:
            print(f"   (browser log unavailable: {e.msg})")

    def page_errors(self):
        return self.d.execute_script("return window.__pageErrors || [];")

    def wait_panel(self, panel, what, states=("ready",)):
        self.wait(lambda: self.state(panel) in states, f"{what} (panel #{panel} state in {states})")
        return self.state(panel)


def check_load(p):
    p.d.get(p.base + "/")
    p.wait(lambda: p.d.execute_script("return document.body && document.body.dataset.ready === 'true'"),
           "the page's script to start")
    if p.d.title != "recsys":
        raise Check(f"page title is {p.d.title!r}")
    for id_ in ("user-id", "rec-k", "recommend-btn", "search-q", "similar-item", "ask-question", "token"):
        p.by_id(id_)
    p.wait(lambda: p.text("model-info").startswith("Model "), "the model information line")
    info = p.text("model-info")
    if "toy" not in info or "items" not in info:
        raise Check(f"model information line: {info!r}")
    # Every form control has a label.
    unlabeled = p.d.execute_script("""
      return [...document.querySelectorAll('input, select, textarea')]
        .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map((e) => e.id || e.outerHTML.slice(0, 60));""")
    if unlabeled:
        raise Check(f"form controls without a label: {unlabeled}")
    docs = p.by_id("docs-link").get_attribute("href")
    if docs != p.base + "/docs":
        raise Check(f"the API reference link points to {docs!r}")
    ok(f"page loads from / (title, forms, every control labelled, API reference link; {info!r})")


def recommend(p, user, k):
    before = p.by_id("rec-list").get_attribute("data-generation")
    p.fill("user-id", user)
    p.fill("rec-k", str(k))
    p.submit("recommend-btn")
    p.wait(lambda: p.by_id("rec-list").get_attribute("data-generation") != before
           and p.state("panel-user") in ("ready", "error"), f"recommendations for {user}")
    if p.state("panel-user") == "error":
        raise Check(f"recommend {user}: error shown: {p.text('rec-error')!r}")


def check_recommend(p, user, k):
    recommend(p, user, k)
    rows = p.testids("rec-list", "rec-item")
    if not rows:
        raise Check(f"no recommendations for {user}")
    if len(rows) > k:
        raise Check(f"{len(rows)} recommendations for k={k}")
    first = rows[0]
    title = first.find_element(By.CSS_SELECTOR, '[data-testid="item-title"]').text
    cats = first.find_element(By.CSS_SELECTOR, '[data-testid="item-categories"]').text
    score = first.find_element(By.CSS_SELECTOR, '[data-testid="item-score"]').text
    if not title.startswith("Movie ") or not cats or not re.fullmatch(r"score -?\d+\.\d{3}", score):
        raise Check(f"first item shows title {title!r}, categories {cats!r}, score {score!r}")
    path = p.by_id("rec-path").get_attribute("data-path")
    if path not in PATHS - {"PATH_COLD_START"}:
        raise Check(f"path for known user {user}: {path!r}")
    degraded = p.text("rec-degraded")
    model = p.text("rec-model")
    if not model or model == "—":
        raise Check("no model version shown")
    if p.by_id("rec-error").is_displayed():
        raise Check("the error line is visible after a successful answer")
    ok(f"recommendations for {user}: {len(rows)} items, first {title!r} [{cats}] {score}; "
       f"path {path}, degraded {degraded!r}, model {model}")
    p.shot("1-recommendations")
    return [r.get_attribute("data-item-id") for r in rows]


def check_feedback(p, user, k, ids):
    target = ids[0]
    row = p.d.find_element(By.CSS_SELECTOR, f'#rec-list [data-item-id="{target}"]')
    title = row.find_element(By.CSS_SELECTOR, '[data-testid="item-title"]').text
    gen = p.by_id("rec-list").get_attribute("data-generation")
    p.click(row.find_element(By.CSS_SELECTOR, '[data-testid="feedback-click"]'))
    p.wait(lambda: p.by_id("rec-list").get_attribute("data-generation") != gen
           and p.state("panel-user") == "ready" and "Refreshing" not in p.text("rec-status"),
           "the list to refresh after the click")
    status = p.text("rec-status")
    m = re.search(r"Feedback recorded \(sequence (\d+)\)", status)
    if not m:
        raise Check(f"status line after the click: {status!r}")
    after = p.item_ids("rec-list", "rec-item")
    if target in after:
        raise Check(f"{target} is still in the list after a click: {after}")
    if not after:
        raise Check("the list is empty after the click")
    if "It left the list" not in status:
        raise Check(f"status line does not say the item left: {status!r}")
    new = [e.get_attribute("data-item-id")
           for e in p.d.find_elements(By.CSS_SELECTOR, '#rec-list [data-testid="rec-item"].is-new')]
    expected_new = [i for i in after if i not in ids]
    if sorted(new) != sorted(expected_new):
        raise Check(f"highlighted {new}, but the items that came in are {expected_new}")
    if len(after) == len(ids) and not new:
        raise Check("the list kept its length but highlights no new item")
    ok(f"click on {target} ({title!r}): {status!r}; {target} left the list, new items highlighted: {new}")
    p.shot("2-after-feedback")

    # The stored history shows the click.
    p.submit("history-btn")
    p.wait(lambda: target in p.item_ids("history-list", "history-event")
           or p.by_id("history-error").is_displayed(), f"{target} in the history")
    if p.by_id("history-error").is_displayed():
        raise Check(f"history: {p.text('history-error')!r}")
    event_text = p.d.find_element(By.CSS_SELECTOR, f'#history-list [data-item-id="{target}"]').text
    if "click" not in event_text:
        raise Check(f"history entry of {target}: {event_text!r}")
    ok(f"history of {user} lists the click on {target}")
    return target


def check_error_body(p):
    p.fill("feedback-item", "no-such-item-42")
    p.submit("feedback-btn")
    p.wait(lambda: p.by_id("rec-error").is_displayed(), "the error line for an unknown item")
    err = p.text("rec-error")
    if "HTTP 404" not in err or "NOT_FOUND" not in err or "no-such-item-42" not in err:
        raise Check(f"error line for an unknown item: {err!r}")
    ok(f"an event for an unknown item shows the API error: {err!r}")


def check_similar(p):
    row = p.d.find_element(By.CSS_SELECTOR, '#rec-list [data-testid="rec-item"]')
    item = row.get_attribute("data-item-id")
    p.click(row.find_element(By.CSS_SELECTOR, '[data-testid="more-like-this"]'))
    p.wait(lambda: p.by_id("panel-similar").get_attribute("data-item-id") == item
           and p.state("panel-similar") in ("ready", "error"), f"items similar to {item}")
    if p.state("panel-similar") == "error":
        raise Check(f"similar to {item}: {p.text('similar-error')!r}")
    content = p.item_ids("similar-content", "similar-content-item")
    collab = p.item_ids("similar-collab", "similar-collab-item")
    if not content or not collab:
        raise Check(f"similar to {item}: content {content}, collaborative {collab}")
    if item in content or item in collab:
        raise Check(f"{item} is listed as similar to itself")
    if p.by_id("similar-item").get_attribute("value") != item:
        raise Check("the similar-items form does not show the item id")
    ok(f"more like {item}: content {content[:5]}, collaborative {collab[:5]}")
    # "More like this" from the similar list goes on from there.
    nxt = p.testids("similar-content", "similar-content-item")[0]
    nxt_id = nxt.get_attribute("data-item-id")
    p.click(nxt.find_element(By.CSS_SELECTOR, '[data-testid="more-like-this"]'))
    p.wait(lambda: p.by_id("panel-similar").get_attribute("data-item-id") == nxt_id
           and p.state("panel-similar") == "ready", f"items similar to {nxt_id}")
    ok(f"more like {nxt_id} from the similar list")


def search(p, q):
    p.fill("search-q", q)
    p.submit("search-btn")
    p.wait(lambda: p.state("panel-search") in ("ready", "error") and q in p.text("search-status")
           or p.by_id("search-error").is_displayed(), f"search results for {q!r}")
    if p.state("panel-search") == "error":
        raise Check(f"search {q!r}: {p.text('search-error')!r}")
    return p.testids("search-results", "search-item")


def check_search(p, words):
    rows = search(p, words)
    if not rows:
        raise Check(f"no search results for {words!r}")
    titles = [r.find_element(By.CSS_SELECTOR, '[data-testid="item-title"]').text for r in rows]
    top = set(re.findall(r"\w+", titles[0].lower()))
    if not set(re.findall(r"\w+", words.lower())) <= top:
        raise Check(f"the top result for {words!r} is {titles[0]!r} (all: {titles})")
    ok(f"search {words!r}: {len(rows)} results, top {titles[0]!r}")

    # Markup in what the API echoes is shown as text, never run.
    hostile = 'galaxy <img src=x onerror="window.__xss=1"><b>bold</b>'
    search(p, hostile)
    if hostile not in p.text("search-status"):
        raise Check(f"the query is not shown as text: {p.text('search-status')!r}")
    if p.d.find_elements(By.CSS_SELECTOR, "#panel-search img, #panel-search b"):
        raise Check("markup from the query became elements")
    if p.d.execute_script("return window.__xss === 1"):
        raise Check("markup from the query ran")
    ok("a query with HTML markup is shown as text")


def check_ask(p, mode_required):
    p.fill("ask-question", "Which crime movies have a detective solving a murder?")
    p.fill("ask-k", "3")
    p.submit("ask-btn")
    state = p.wait_panel("panel-ask", "an answer", states=("ready", "error", "unavailable"))
    if state == "unavailable":
        msg = p.text("ask-error")
        if mode_required == "required":
            raise Check(f"Ask is required but the page says: {msg!r}")
        if "not available" not in msg:
            raise Check(f"unclear message when Ask is missing: {msg!r}")
        ok(f"ask: not on this gateway, the panel says so: {msg!r}")
        return "unavailable"
    if state == "error":
        raise Check(f"ask: {p.text('ask-error')!r}")
    answer = p.text("ask-answer")
    mode = p.text("ask-mode")
    rows = p.testids("ask-citations", "ask-citation")
    if not answer.strip():
        raise Check("empty answer")
    if mode not in ("extractive", "generator"):
        raise Check(f"mode {mode!r}")
    if not rows:
        raise Check(f"no citations for the answer {answer!r}")
    cited = []
    for r in rows:
        t = r.find_element(By.CSS_SELECTOR, '[data-testid="item-title"]').text
        if not t:
            raise Check("a citation without a title")
        cats = r.find_elements(By.CSS_SELECTOR, '[data-testid="item-categories"]')
        snip = r.find_elements(By.CSS_SELECTOR, '[data-testid="citation-snippet"]')
        cited.append((r.get_attribute("data-item-id"), t, cats[0].text if cats else "",
                      snip[0].text if snip else ""))
    if not any(c[3] for c in cited):
        raise Check(f"no citation shows a snippet: {cited}")
    if not any("Crime" in c[2] for c in cited):
        raise Check(f"a question about a detective cites no Crime item: {cited}")
    ok(f"ask ({mode}): {answer[:80]!r}; {len(rows)} citations, e.g. {cited[0]}")
    p.shot("3-ask")
    return "answered"


def check_debug(p, user, k):
    p.click(p.by_id("rec-debug"))
    try:
        recommend(p, user, k)
        timings = p.text("rec-timings")
        if not re.search(r"\d+\.\d ms", timings) or not p.testids("panel-user", "rec-item"):
            raise Check(f"debug answer: timings {timings!r}")
        notes = p.text("rec-notes")
    finally:
        p.click(p.by_id("rec-debug"))
    recommend(p, user, k)
    if p.by_id("rec-timings").is_displayed():
        raise Check("timings still shown without debug")
    ok(f"debug: timings {timings!r}, notes {notes.splitlines()[:2]}")


def check_cold_start_and_recent(p, user, k):
    stranger = "visitor-" + str(int(time.time()))
    recommend(p, stranger, k)
    path = p.by_id("rec-path").get_attribute("data-path")
    notes = p.text("rec-notes")
    if path != "PATH_COLD_START" or "unknown user" not in notes:
        raise Check(f"unknown user {stranger}: path {path!r}, notes {notes!r}")
    if not p.testids("rec-list", "rec-item"):
        raise Check(f"no cold-start items for {stranger}")
    ok(f"unknown user {stranger}: {path}, note {notes.splitlines()[0]!r}")

    p.d.refresh()
    p.wait(lambda: p.d.execute_script("return document.body.dataset.ready === 'true'"), "the reload")
    offered = p.d.execute_script(
        "return [...document.querySelectorAll('#recent-users option')].map((o) => o.value);")
    if offered[:2] != [stranger, user] or p.by_id("user-id").get_attribute("value") != stranger:
        raise Check(f"recent users after a reload: {offered}, field {p.by_id('user-id').get_attribute('value')!r}")
    ok(f"recent users kept across a reload: {offered}")


def save_token(p, token):
    p.d.execute_script("document.querySelector('details.settings').open = true;")
    p.fill("token", token)
    p.submit("token-save")
    p.wait(lambda: "saved" in p.text("token-status"), "the token to be saved")


def check_tokens(p, base, user, read_token, admin_token):
    """A gateway that checks tokens: 401 without one, 403 for a role that may
    not, and the page's token field (kept in localStorage) fixes both."""
    p.d.get(base + "/")
    p.wait(lambda: p.d.execute_script("return document.body.dataset.ready === 'true'"), "the page")
    p.wait(lambda: "HTTP 401" in p.text("model-info"), "the model line to show the 401")
    info = p.text("model-info")
    if "UNAUTHENTICATED" not in info or "access token" not in info:
        raise Check(f"model line without a token: {info!r}")
    p.fill("user-id", user)
    p.submit("recommend-btn")
    p.wait(lambda: p.state("panel-user") == "error", "the recommend error without a token")
    err = p.text("rec-error")
    if "HTTP 401" not in err or "set an access token" not in err:
        raise Check(f"recommend without a token: {err!r}")
    ok(f"no token: the page says {err!r}")

    save_token(p, read_token)
    p.wait(lambda: p.text("model-info").startswith("Model "), "the model line with the read token")
    recommend(p, user, 5)
    ids = p.item_ids("rec-list", "rec-item")
    if not ids:
        raise Check("no recommendations with the read token")
    p.click(p.testids("rec-list", "rec-item")[0].find_element(By.CSS_SELECTOR, '[data-testid="feedback-click"]'))
    p.wait(lambda: p.by_id("rec-error").is_displayed(), "the feedback error with the read token")
    err = p.text("rec-error")
    if "HTTP 403" not in err or "PERMISSION_DENIED" not in err:
        raise Check(f"feedback with a read token: {err!r}")
    if p.item_ids("rec-list", "rec-item") != ids:
        raise Check("the list changed after a refused feedback")
    ok(f"read token: recommendations shown ({len(ids)}), feedback refused: {err!r}")

    p.submit("history-btn")
    p.wait(lambda: p.by_id("history-error").is_displayed(), "the history error with the read token")
    if "HTTP 403" not in p.text("history-error"):
        raise Check(f"history with a read token: {p.text('history-error')!r}")
    save_token(p, admin_token)
    p.submit("history-btn")
    p.wait(lambda: "recent event" in p.text("history-status") and not p.by_id("history-error").is_displayed(),
           "the history with the admin token")
    ok(f"admin token: history shown ({p.text('history-status')!r})")

    p.d.refresh()
    p.wait(lambda: p.d.execute_script("return document.body.dataset.ready === 'true'"), "the reload")
    if p.by_id("token").get_attribute("value") != admin_token:
        raise Check("the token is not kept across a reload")
    p.wait(lambda: p.text("model-info").startswith("Model "), "the model line after the reload")
    p.d.execute_script("document.querySelector('details.settings').open = true;")
    p.click(p.by_id("token-clear"))
    p.wait(lambda: "HTTP 401" in p.text("model-info"), "the 401 after clearing the token")
    ok("the token is kept across a reload and sent; clearing it brings the 401 back")


def check_phone(p, user, k, ask_state):
    p.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                        {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 2, "mobile": True})
    # Fill every panel so long content is laid out too.
    recommend(p, user, k)
    first = p.testids("rec-list", "rec-item")[0]
    item = first.get_attribute("data-item-id")
    p.click(first.find_element(By.CSS_SELECTOR, '[data-testid="more-like-this"]'))
    p.wait(lambda: p.by_id("panel-similar").get_attribute("data-item-id") == item
           and p.state("panel-similar") == "ready", "similar items at phone width")
    # The similar panel is below the first one on a phone: it was scrolled to.
    top = p.d.execute_script("return document.getElementById('panel-similar').getBoundingClientRect().top;")
    if not -2 <= top < PHONE[1] * 0.5:
        raise Check(f"the similar-items panel is not brought into view (top {top})")
    search(p, "Movie 3")
    if ask_state != "skip":
        p.fill("ask-question", "Which movies are about love and a wedding?")
        p.submit("ask-btn")
        p.wait_panel("panel-ask", "an answer at phone width", states=("ready", "error", "unavailable"))
    p.d.execute_script("document.querySelector('details.settings').open = true;")
    p.d.execute_script("window.scrollTo(0, 0);")
    layout = p.d.execute_script("""
      const vw = document.documentElement.clientWidth;
      const over = [];
      for (const e of document.querySelectorAll('body *')) {
        const r = e.getBoundingClientRect();
        if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5)) {
          over.push(`${e.tagName.toLowerCase()}#${e.id}.${e.className} [${r.left.toFixed(0)}, ${r.right.toFixed(0)}]`);
        }
      }
      const panels = [...document.querySelectorAll('.panel')].map((e) => {
        const r = e.getBoundingClientRect();
        return [Math.round(r.left), Math.round(r.top), Math.round(r.width)];
      });
      return {vw, iw: window.innerWidth, sw: document.documentElement.scrollWidth,
              bw: document.body.scrollWidth, over: over.slice(0, 10), panels};""")
    if layout["vw"] != PHONE[0]:
        raise Check(f"viewport is {layout['vw']} px wide, not {PHONE[0]}: {layout}")
    if layout["sw"] > layout["vw"] or layout["bw"] > layout["vw"] or layout["iw"] != layout["vw"] or layout["over"]:
        raise Check(f"horizontal overflow at {PHONE[0]} px: {json.dumps(layout)}")
    panels = layout["panels"]
    lefts = {pl[0] for pl in panels}
    tops = [pl[1] for pl in panels]
    if len(lefts) != 1 or tops != sorted(tops) or len(set(tops)) != len(tops):
        raise Check(f"panels do not stack at {PHONE[0]} px: {panels}")
    # Buttons stay big enough to tap.
    small = p.d.execute_script("""
      return [...document.querySelectorAll('button')].filter((b) => b.offsetParent !== null)
        .map((b) => b.getBoundingClientRect()).filter((r) => r.height < 28).length;""")
    if small:
        raise Check(f"{small} buttons are under 28 px high at phone width")
    ok(f"{PHONE[0]}x{PHONE[1]}: no horizontal overflow (scrollWidth {layout['sw']}), "
       f"{len(panels)} panels stacked at x={panels[0][0]}")
    p.shot("4-phone-top")
    p.d.execute_script("document.getElementById('panel-similar').scrollIntoView();")
    p.shot("5-phone-similar")
    p.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def check_logs(p, expected_failures):
    errors = p.page_errors()
    p.collect_log()
    bad = []
    for entry in p.browser_log:
        if entry.get("level") != "SEVERE":
            continue
        msg = entry.get("message", "")
        if any(re.search(pat, msg) for pat in expected_failures):
            continue
        bad.append(msg)
    bad += [e for e in errors if not any(re.search(pat, e) for pat in expected_failures)]
    if bad:
        raise Check(f"browser errors: {bad}")
    severe = sum(1 for e in p.browser_log if e.get("level") == "SEVERE")
    ok(f"no JavaScript errors in the browser ({len(p.browser_log)} log entries,"
       f" {severe} of them the deliberate failed requests)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT of the gateway's HTTP API")
    ap.add_argument("--work", required=True, help="scratch directory (browser profile, logs)")
    ap.add_argument("--user", default="u0")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--search", default="Movie 5",
                    help="words of one toy title (the top result's title must have them all)")
    ap.add_argument("--ask", choices=("required", "optional"), default="required")
    ap.add_argument("--shots", default="", help="directory for screenshots (none when empty)")
    ap.add_argument("--token-base", default="", help="a gateway's HTTP API that checks tokens")
    ap.add_argument("--read-token", default="")
    ap.add_argument("--admin-token", default="")
    args = ap.parse_args()

    driver = make_driver(args.work)
    p = Page(driver, args.base, args.shots)
    step = "start"
    try:
        step = "load"
        check_load(p)
        step = "recommend"
        ids = check_recommend(p, args.user, args.k)
        step = "feedback"
        check_feedback(p, args.user, args.k, ids)
        step = "error body"
        check_error_body(p)
        step = "similar"
        check_similar(p)
        step = "search"
        check_search(p, args.search)
        step = "ask"
        ask_state = check_ask(p, args.ask)
        step = "debug"
        check_debug(p, args.user, args.k)
        step = "cold start"
        check_cold_start_and_recent(p, args.user, args.k)
        step = "phone"
        check_phone(p, args.user, args.k, ask_state)
        expected = [r"/v1/feedback .*status of 404"]
        if args.token_base:
            step = "tokens"
            check_tokens(p, args.token_base.rstrip("/"), args.user, args.read_token, args.admin_token)
            expected.append(re.escape(args.token_base.rstrip("/")) + r"/v1/\S* .*status of 40[13]")
        step = "browser log"
        if ask_state == "unavailable":
            expected.append(r"/v1/ask .*status of (404|501)")
        check_logs(p, expected)
    except (Check, WebDriverException) as e:
        msg = e.msg if isinstance(e, WebDriverException) else str(e)
        print(f"FAIL at {step}: {msg}", flush=True)
        if isinstance(e, WebDriverException):
            traceback.print_exc()
        try:
            p.collect_log()
            for entry in p.browser_log[-20:]:
                print(f"   browser {entry.get('level')}: {entry.get('message')}")
            print("   page errors:", p.page_errors())
            body = driver.find_element(By.TAG_NAME, "body").text
            print("   page text:\n" + "\n".join("     | " + line for line in body.splitlines()[:80]))
            if not p.shots:
                p.shots = args.work
            p.shot("failure")
        except WebDriverException:
            pass
        return 1
    finally:
        driver.quit()
    print("all web page checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
