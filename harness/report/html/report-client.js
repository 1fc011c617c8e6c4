/*
 * Floodgate report.html: draws the charts that the #report-data JSON describes (its `charts`
 * list, built by chart-data.ts) with uPlot, inlined before this script. Nothing is fetched.
 * Time charts share one x axis (run time, s) and a synced cursor; server samples are merged onto
 * the client's points by time (alignment holes are `undefined`, which uPlot draws across, while
 * `null` values, seconds without data, stay gaps). When every chart has drawn once,
 * window.floodgateReport.ready is true and <html data-charts-ready> is set.
 */
(function () {
  'use strict';
  var state = { total: 0, drawn: 0, failed: 0, ready: false };
  window.floodgateReport = state;
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var plots = [];
  var DASH = '\u2013';

  function fmtMs(v) {
    if (v >= 10000) return (v / 1000).toFixed(1) + 's';
    if (v >= 100) return v.toFixed(0);
    if (v >= 10) return v.toFixed(1);
    return v.toFixed(2);
  }
  function fmtNumber(v) {
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(0) + 'k';
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return String(Math.round(v * 10) / 10);
    return String(Math.round(v * 100) / 100);
  }
  function fmt(unit, v) {
    if (v === null || v === undefined || !isFinite(v)) return DASH;
    if (unit === 'ms') {
      var f = fmtMs(v);
      return f.charAt(f.length - 1) === 's' ? f.slice(0, -1) + ' s' : f + ' ms';
    }
    if (unit === 'pct') return (v * 100).toFixed(v < 0.1 ? 1 : 0) + '%';
    return fmtNumber(v);
  }
  function ticks(unit) {
    return function (u, splits) {
      return splits.map(function (v) {
        if (v === null || v === undefined) return '';
        if (unit === 'pct') return Math.round(v * 100) + '%';
        if (unit === 'ms' && Math.abs(v) >= 10000) return fmtNumber(v / 1000) + 's';
        return fmtNumber(v);
      });
    };
  }
  function rangeFromZero(u, min, max) {
    if (min === null || max === null || !isFinite(min) || !isFinite(max)) return [0, 1];
    var lo = Math.min(0, min);
    var hi = max > lo ? max + (max - lo) * 0.08 : lo + 1;
    return [lo, hi];
  }
  function pctRange(u, min, max) {
    return [0, max !== null && isFinite(max) && max > 1 ? max * 1.05 : 1];
  }
  function rangeFor(unit) {
    return unit === 'pct' ? pctRange : rangeFromZero;
  }

  /** Client and server columns on one x array: the union of their times. */
  function timeColumns(spec) {
    var useClient = false;
    var useServer = false;
    spec.series.forEach(function (s) {
      if (s.src === 'client') useClient = true;
      if (s.src === 'server') useServer = true;
    });
    var cx = useClient ? data.client.x : [];
    var sx = useServer && data.server ? data.server.x : [];
    var xs = [];
    var ci = [];
    var si = [];
    var i = 0;
    var j = 0;
    while (i < cx.length || j < sx.length) {
      if (j >= sx.length || (i < cx.length && cx[i] < sx[j])) {
        xs.push(cx[i]); ci.push(i++); si.push(-1);
      } else if (i >= cx.length || sx[j] < cx[i]) {
        xs.push(sx[j]); ci.push(-1); si.push(j++);
      } else {
        xs.push(cx[i]); ci.push(i++); si.push(j++);
      }
    }
    var cols = [xs];
    spec.series.forEach(function (s) {
      var src = s.src === 'client' ? data.client.cols[s.key] : data.server.cols[s.key];
      var map = s.src === 'client' ? ci : si;
      var out = new Array(xs.length);
      for (var k = 0; k < xs.length; k++) out[k] = map[k] < 0 ? undefined : src[map[k]];
      cols.push(out);
    });
    return cols;
  }

  function cdfColumns(spec) {
    var c = data.cdf[spec.cdf];
    return [c.x, c.p];
  }

  function unitOf(spec, s) {
    return s.axis === 'y2' && spec.y2 ? spec.y2.unit : spec.y.unit;
  }

  function markerHook(spec) {
    return function (u) {
      var m = spec.marker;
      if (!m) return;
      var x = u.valToPos(m.x, 'x', true);
      if (!(x >= u.bbox.left && x <= u.bbox.left + u.bbox.width)) return;
      var ctx = u.ctx;
      var dpr = window.devicePixelRatio || 1;
      ctx.save();
      ctx.strokeStyle = '#b91c1c';
      ctx.fillStyle = '#b91c1c';
      ctx.lineWidth = 1.5 * dpr;
      ctx.setLineDash([5 * dpr, 4 * dpr]);
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.font = (11 * dpr) + 'px system-ui, sans-serif';
      ctx.textAlign = x > u.bbox.left + u.bbox.width * 0.7 ? 'right' : 'left';
      ctx.fillText(m.label + ' ' + fmt('ms', m.x), x + (ctx.textAlign === 'right' ? -4 : 4) * dpr, u.bbox.top + 12 * dpr);
      ctx.restore();
    };
  }

  function widthOf(body) {
    return Math.max(240, Math.floor(body.getBoundingClientRect().width));
  }

  /**
   * The time axis runs from 0 to the run's end on every chart (so charts line up), except while
   * zoomed: a range inside the data's is a zoom (drag), and is kept.
   */
  function timeRange(u, min, max) {
    var xs = u.data[0];
    var lo = xs.length ? xs[0] : 0;
    var hi = xs.length ? xs[xs.length - 1] : 0;
    if (min !== null && max !== null && (min > lo || max < hi)) return [min, max];
    var end = Math.max(data.duration_s || 0, hi || 0);
    return [0, end > 0 ? end : 1];
  }

  function options(spec, width) {
    var isCdf = spec.kind === 'cdf';
    var hasY2 = !!spec.y2;
    var drawn = false;
    var scales = {
      x: isCdf
        ? { time: false, range: function (u, min, max) { var hi = Math.max(max || 0, spec.marker ? spec.marker.x : 0); return [0, hi > 0 ? hi * 1.04 : 1]; } }
        : { time: false, range: timeRange },
      y: { range: isCdf ? [0, 1] : rangeFor(spec.y.unit) },
    };
    if (hasY2) scales.y2 = { range: rangeFor(spec.y2.unit) };
    var axes = [
      { label: spec.x.label, labelSize: 18, size: 36, values: ticks(spec.x.unit) },
      { scale: 'y', label: spec.y.label, labelSize: 18, size: 58, values: ticks(spec.y.unit) },
    ];
    if (hasY2) axes.push({ scale: 'y2', side: 1, label: spec.y2.label, labelSize: 18, size: 58, values: ticks(spec.y2.unit), grid: { show: false } });
    var series = [{
      label: isCdf ? 'latency' : 'time',
      value: function (u, v) { return v === null || v === undefined ? DASH : isCdf ? fmt('ms', v) : fmtNumber(v) + ' s'; },
    }];
    spec.series.forEach(function (s) {
      var unit = isCdf ? 'pct' : unitOf(spec, s);
      var o = {
        label: s.label,
        scale: s.axis,
        stroke: s.color,
        width: s.width || 1.6,
        spanGaps: false,
        points: { show: false },
        value: function (u, v) { return fmt(unit, v); },
      };
      if (s.dash) o.dash = s.dash;
      if (s.fill) o.fill = s.fill;
      series.push(o);
    });
    return {
      width: width,
      height: isCdf ? 220 : 230,
      // Without a right axis, as much room as one (size + label) takes, so time charts line up.
      padding: [10, isCdf ? 14 : hasY2 ? 6 : 82, 0, 4],
      cursor: isCdf ? { drag: { x: false, y: false } } : { sync: { key: 'floodgate-time' }, drag: { x: true, y: false } },
      scales: scales,
      axes: axes,
      series: series,
      legend: { show: true, live: true },
      hooks: {
        draw: [function (u) {
          if (spec.marker) markerHook(spec)(u);
          if (!drawn) {
            drawn = true;
            state.drawn++;
            u.root.parentNode.setAttribute('data-drawn', 'true');
            checkReady();
          }
        }],
      },
    };
  }

  function checkReady() {
    if (state.ready || state.drawn + state.failed < state.total) return;
    state.ready = true;
    document.documentElement.setAttribute('data-charts-ready', String(state.drawn));
    if (window.performance && performance.mark) performance.mark('floodgate-charts-drawn');
  }

  function drawAll() {
    var specs = data.charts || [];
    state.total = specs.length;
    specs.forEach(function (spec) {
      var body = document.getElementById('chart-' + spec.id);
      if (!body) {
        state.failed++;
        console.error('report: no container for chart ' + spec.id);
        return;
      }
      try {
        var cols = spec.kind === 'cdf' ? cdfColumns(spec) : timeColumns(spec);
        var plot = new uPlot(options(spec, widthOf(body)), cols, body);
        plots.push({ plot: plot, body: body });
      } catch (e) {
        state.failed++;
        body.innerHTML = '<p class="chart-error">This chart could not be drawn.</p>';
        console.error('report: chart ' + spec.id + ' failed: ' + (e && e.message ? e.message : e));
      }
    });
    checkReady();
  }

  function resizeAll(printWidth) {
    plots.forEach(function (p) {
      var w = printWidth || widthOf(p.body);
      if (Math.abs(w - p.plot.width) >= 2) p.plot.setSize({ width: w, height: p.plot.height });
    });
  }

  var pending = false;
  window.addEventListener('resize', function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; resizeAll(0); });
  });
  // Printing: charts fit an A4 page's width (about 700 CSS px between 12 mm margins).
  window.addEventListener('beforeprint', function () { resizeAll(680); });
  window.addEventListener('afterprint', function () { resizeAll(0); });

  drawAll();
})();
