#!/usr/bin/env python3
"""Drives the agent's dashboard in headless Chromium (selenium 4, Debian's
chromium and chromium-driver, fully offline) for DashboardBrowserTests.

The Swift test starts the table, two stores and an agent, then runs this
script. Steps it cannot do itself (stopping a store that lives in the test
process) go through files in --signals: the script writes `stop-store` and
waits for `store-stopped`. Prints one JSON line of findings; exits 1 with
the reason on stderr at the first check that fails.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--teabag", required=True)
parser.add_argument("--agent", required=True)
parser.add_argument("--signals", required=True)
parser.add_argument("--shots", required=True)
args = parser.parse_args()
base = args.url.split("?")[0].rstrip("/")
findings = {}


def fail(message):
    try:
        driver.save_screenshot(os.path.join(args.signals, "failure.png"))
        sys.stderr.write(driver.find_element(By.TAG_NAME, "body").text + "\n")
    except Exception:
        pass
    sys.stderr.write("FAIL: " + message + "\n")
    sys.exit(1)


def wait_for(seconds, what, condition):
    def attempt(_):
        try:
            return condition()
        except Exception:  # the page redrew under a lookup: look again
            return False
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.05).until(attempt)
    except Exception:
        fail("%s: not seen within %s s" % (what, seconds))


def cli(*arguments):
    done = subprocess.run([args.teabag, arguments[0], "--agent", args.agent] + list(arguments[1:]),
                          capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        fail("teabag %s: exit %d: %s" % (" ".join(arguments), done.returncode, done.stderr.strip()))
    return done.stdout.strip()


def texts(selector):
    """The text of every element matching, read in one step of the page's
    script (the page redraws whole tables, so elements found in one call
    may be gone in the next)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText)", selector)


def count(selector):
    return len(texts(selector))


options = webdriver.ChromeOptions()
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
             "--no-first-run", "--disable-extensions", "--disable-background-networking"]:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    # Without the token, or with a wrong one: refused, page and stream alike.
    for url in [base + "/", base + "/?token=wrong"]:
        driver.get(url)
        body = driver.find_element(By.TAG_NAME, "body").text
        if "token required" not in body or "teabag dashboard" not in body:
            fail("%s was not refused: %r" % (url, body[:200]))
    try:
        urllib.request.urlopen(base + "/events", timeout=5)
        fail("/events without the token answered 200")
    except urllib.error.HTTPError as error:
        findings["events_without_token"] = error.code
    findings["refused_without_token"] = True

    # With it: live, both stores connected.
    driver.get(args.url)
    wait_for(10, "the page going live", lambda: driver.find_element(By.ID, "agent-state").text == "live")
    wait_for(15, "two connected stores", lambda: count('tr.store[data-state="connected"]') == 2)
    findings["stores_connected"] = 2

    # A value pushed with the CLI appears within 2 s.
    cli("push", "main", "merge", "/settings", '{"theme":"dark","font":{"size":14}}')
    cli("push", "main", "counter", "/dash/hits", "40")
    started = time.monotonic()
    cli("push", "main", "counter", "/dash/hits", "1")
    wait_for(10, "the pushed value 41", lambda: any(t.strip().endswith("41") for t in texts('tr.value[data-path="/dash/hits"]')))
    findings["value_seen_after_s"] = round(time.monotonic() - started, 3)

    # The filter narrows the held paths.
    box = driver.find_element(By.ID, "filter")
    box.send_keys("hits")
    wait_for(2, "the filter", lambda: driver.execute_script(
        "return Array.from(document.querySelectorAll('tr.value')).map(e => e.dataset.path)") == ["/dash/hits"])
    box.clear()
    box.send_keys(" ")  # an input event, so the list is drawn unfiltered again
    wait_for(2, "the unfiltered list", lambda: count("tr.value") >= 2)

    # A write the stores refuse shows with the store's reason.
    cli("push", "main", "level", "/dash/level", '"high"')
    wait_for(15, "the refused write", lambda: any("StoreError:InvalidOp" in t and "level must be a number" in t
                                                  for t in texts('tr.refused[data-path="/dash/level"]')))
    findings["refused_write_shown"] = True
    for i in range(3):
        cli("push", "main", "counter", "/dash/hits", "1")
    wait_for(5, "the chart's push rate", lambda: driver.find_element(By.ID, "push-rate").text != "0")
    driver.save_screenshot(os.path.join(args.shots, "dashboard.png"))

    # Stopping a store shows it disconnected.
    open(os.path.join(args.signals, "stop-store"), "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(args.signals, "store-stopped")):
        if time.monotonic() > deadline:
            fail("the test did not stop the store")
        time.sleep(0.05)
    wait_for(10, "a disconnected store", lambda: count('tr.store[data-state="disconnected"]') == 1
             and count('tr.store[data-state="connected"]') == 1)
    findings["store_disconnected"] = True
    try:  # for the screenshot: the stopped store's last error, once the agent has retried
        WebDriverWait(driver, 5, poll_frequency=0.1).until(
            lambda d: texts('tr.store[data-state="disconnected"] td.error')[0].strip() != "")
    except Exception:
        pass
    driver.save_screenshot(os.path.join(args.shots, "dashboard-store-down.png"))
    print(json.dumps(findings))
finally:
    driver.quit()
