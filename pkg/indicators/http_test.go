package indicators

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

func get(t *testing.T, url string) (string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b), resp.Header
}

func TestHTTPExportsAndUpload(t *testing.T) {
	s := testStore(t)
	newFixture().load(t, s)
	srv := httptest.NewServer((&Server{X: New(s)}).Handler())
	defer srv.Close()

	body, _ := get(t, srv.URL+"/api/mr2?from=2026-10&finess="+finA)
	var rows []MR2
	if err := json.Unmarshal([]byte(body), &rows); err != nil || len(rows) != 1 || rows[0].Transmitted != 5 || rows[0].Estimated != 8 {
		t.Fatalf("JSON MR.2: %v %s", err, body)
	}
	// CSV as Excel in France reads it: BOM, ';', decimal comma.
	body, h := get(t, srv.URL+"/api/mr2?from=2026-10&finess="+finA+"&format=csv")
	if !strings.HasPrefix(body, "\xEF\xBB\xBFFINESS;Établissement;Mois;") || !strings.Contains(body, ";62,5;oui\r\n") ||
		!strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Errorf("CSV MR.2:\n%q", body)
	}
	// XLSX opens, with the rate as a number.
	body, _ = get(t, srv.URL+"/api/dgos?month=2026-10&format=xlsx")
	f, err := excelize.OpenReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sheet := f.GetSheetName(0)
	rowsX, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil || len(rowsX) != 4 { // header + A, B, C
		t.Fatalf("DGOS XLSX: %v, %q", err, rowsX)
	}
	var rowA []string
	for _, r := range rowsX {
		if r[0] == finA {
			rowA = r
		}
	}
	// A: MR.2 5/8 estimated; MR.1 1 of 2 centres.
	if len(rowA) < 15 || rowA[3] != "5" || rowA[4] != "8" || rowA[5] != "estimé" || rowA[9] != "0.625" || rowA[11] != "2" ||
		rowA[12] != "1" || rowA[13] != "0.5" {
		t.Errorf("DGOS XLSX row of A: %q", rowA)
	}
	// Reception report: the rejection and its reason.
	body, _ = get(t, srv.URL+"/report?finess="+finA+"&from=2026-11")
	for _, want := range []string{"schematron", "assertion en échec", `id="mr2"`, "66,7 %"} {
		if !strings.Contains(body, want) {
			t.Errorf("reception report lacks %q", want)
		}
	}
	body, _ = get(t, srv.URL+"/report?finess="+finA+"&from=2026-11&format=csv")
	if !strings.Contains(body, "Documents rejetés") || !strings.Contains(body, "a3;1;schematron") {
		t.Errorf("reception CSV:\n%s", body)
	}
	// Upload a declared count for A in October: the denominator becomes declared.
	resp, err := http.Post(srv.URL+"/api/dpi-updates", "text/csv", strings.NewReader("finess;mois;nombre\n"+finA+";2026-10;5\n"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("upload: %v %v", err, resp)
	}
	body, _ = get(t, srv.URL+"/api/mr2?from=2026-10&finess="+finA)
	json.Unmarshal([]byte(body), &rows)
	if rows[0].DenominatorSource != "declared" || rows[0].Denominator != 5 || rows[0].Estimated != 8 || *rows[0].Rate != 1 || rows[0].BelowTarget {
		t.Errorf("after upload: %s", body)
	}
	resp, _ = http.Post(srv.URL+"/api/dpi-updates", "text/csv", strings.NewReader("finess;mois;nombre\n"+finA+";oct;5\n"))
	if resp.StatusCode != 400 {
		t.Errorf("a bad month was accepted: %d", resp.StatusCode)
	}
	resp, _ = http.Get(srv.URL + "/api/mr2?from=2026-13")
	if resp.StatusCode != 400 {
		t.Errorf("a bad month was accepted: %d", resp.StatusCode)
	}
}

// chromium runs headless Chromium with the flags this machine needs.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("headless Chromium is needed (Debian package chromium): ", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func TestDashboardInChromium(t *testing.T) {
	s := testStore(t)
	newFixture().load(t, s)
	srv := httptest.NewServer((&Server{X: New(s)}).Handler())
	defer srv.Close()
	dom := string(chromium(t, "--dump-dom", srv.URL+"/?month=2026-10"))
	for _, want := range []string{`id="chart-mr2"`, `id="chart-trend"`, `id="chart-rejections"`, "Hôpital A", "Hôpital B",
		"cible 95 %", `<b id="kpi-below">3</b>`, `href="report?finess=` + finA + `&amp;from=2026-10"`, `<b id="kpi-establishments">3</b>`} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered dashboard lacks %q", want)
		}
	}
	// One red MR.2 bar per establishment under the target with a non-zero
	// rate (A 62,5 %, B 75 %); one red MR.1 bar (A, 1 centre of 2).
	for chart, want := range map[string]int{"chart-mr2": 2, "chart-mr1": 1} {
		svg := regexp.MustCompile(`(?s)<svg id="` + chart + `".*?</svg>`).FindString(dom)
		if n := len(regexp.MustCompile(`<rect[^>]*class="low"`).FindAllString(svg, -1)); n != want {
			t.Errorf("%s: %d red bars, want %d", chart, n, want)
		}
	}
	if strings.Contains(dom, "http://") && regexp.MustCompile(`(src|href)="https?://`).MatchString(dom) {
		t.Error("the dashboard loads an external asset")
	}
	png := filepath.Join(t.TempDir(), "dashboard.png")
	chromium(t, "--screenshot="+png, "--window-size=1366,900", "--hide-scrollbars", srv.URL+"/?month=2026-10")
	if st, err := os.Stat(png); err != nil || st.Size() < 10_000 {
		t.Errorf("screenshot: %v %v", st, err)
	}
}

// TestDashboardScreenshot renders the dashboard over a synthetic sample of
// 40 establishments and saves a 1366×900 screenshot to $BNDMR_SCREENSHOT
// (scripts/screenshot.sh; a temporary file otherwise), for a person to look at.
func TestDashboardScreenshot(t *testing.T) {
	s := testStore(t)
	if _, err := loadNationalYear(context.Background(), s, benchSize{versions: 8000, patients: 3200, establishments: 40}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&Server{X: New(s)}).Handler())
	defer srv.Close()
	out := os.Getenv("BNDMR_SCREENSHOT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "dashboard.png")
	}
	chromium(t, "--screenshot="+out, "--window-size=1366,900", "--hide-scrollbars", srv.URL+"/?month=2026-10")
	st, err := os.Stat(out)
	if err != nil || st.Size() < 20_000 {
		t.Fatalf("screenshot %s: %v %v", out, st, err)
	}
	t.Logf("dashboard screenshot: %s", out)
}
