/**
 * The dashboard's one stylesheet and one script, inlined into each page under the CSP nonce:
 * no build step, no second request, nothing fetched from elsewhere. The script only enhances:
 * every page reads, and every action works (through a confirmation page), with it off.
 */

// Colours meet WCAG AA contrast (4.5:1 for text) on their backgrounds; axe checks them.
export const STYLES = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff}
a{color:#0550ae}
a:hover{color:#033d8b}
:focus-visible,input:focus,input:focus-within,select:focus{outline:3px solid #0550ae;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5em}
.skip:focus{left:.5em}
header{display:flex;flex-wrap:wrap;gap:1em;align-items:center;padding:.6em 1.2em;background:#1f2328;color:#fff}
header a{color:#fff}
header nav ul{display:flex;gap:1.2em;list-style:none;margin:0;padding:0}
header nav a[aria-current=page]{font-weight:700;text-decoration-thickness:3px}
header .brand{font-weight:700;margin-right:1em}
header form{margin-left:auto}
main{padding:1em 1.2em 3em;max-width:1400px}
main:focus{outline:none}
h1{font-size:1.5em;margin:.3em 0 .6em}
h2{font-size:1.15em;margin:1.4em 0 .5em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #d0d7de;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:.6em;overflow:auto;max-height:30em;white-space:pre-wrap;word-break:break-word;font-size:13px}
code{font-size:13px}
.muted{color:#57606a}
.banner{padding:.6em 1.2em;margin:0;font-weight:600}
.danger-banner{background:#a40e26;color:#fff}
.note-banner{background:#fff8c5;color:#4d2d00}
.flash{background:#dafbe1;color:#0f5323;border:1px solid #4ac26b;padding:.5em .8em;border-radius:6px}
.problem{background:#ffebe9;color:#82071e;border:1px solid #ff8182;padding:.5em .8em;border-radius:6px}
.badge{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.85em;font-weight:600;background:#eaeef2;color:#32383f}
.s-completed{background:#dafbe1;color:#0f5323}
.s-discarded{background:#ffebe9;color:#82071e}
.s-running{background:#ddf4ff;color:#033d8b}
.s-retryable{background:#fff8c5;color:#4d2d00}
.s-paused{background:#fff1e5;color:#762c00}
button,.button{font:inherit;padding:.3em .9em;border:1px solid #0550ae;border-radius:6px;background:#0550ae;color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary,.button.secondary{background:#fff;color:#0550ae}
button.danger{background:#a40e26;border-color:#a40e26}
button:hover{filter:brightness(1.1)}
form.inline{display:inline}
.actions{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin:.6em 0}
fieldset{border:1px solid #d0d7de;border-radius:6px;margin:0 0 .8em;padding:.6em .9em}
legend{font-weight:600;padding:0 .3em}
.filters{display:grid;grid-template-columns:repeat(auto-fill,minmax(15em,1fr));gap:.6em 1em}
.filters label,.field label{display:block;font-weight:600;font-size:.9em}
.choices{display:flex;flex-wrap:wrap;gap:.2em .9em}
.choices label{font-weight:400;font-size:1em;display:inline}
input[type=text],input[type=password],input[type=search],input[type=datetime-local],input[type=number],select{font:inherit;padding:.25em .4em;border:1px solid #6e7781;border-radius:4px;width:100%;background:#fff;color:#1f2328}
.pager{display:flex;gap:1em;align-items:center;margin:.8em 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(11em,1fr));gap:.6em;margin:.5em 0 1em;padding:0;list-style:none}
.cards li{border:1px solid #d0d7de;border-radius:6px;padding:.5em .8em}
.cards .v{display:block;font-size:1.4em;font-weight:700}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0}
ol.timeline{list-style:none;padding:0;border-left:3px solid #d0d7de;margin-left:.4em}
ol.timeline li{padding:.2em 0 .5em 1em}
.login{max-width:26em;margin:4em auto}
[hidden]{display:none!important}
`;

/**
 * Confirmations (a submit whose button or form has `data-confirm` asks first, then skips the
 * server's confirmation page), "select all" on job lists, and auto-refresh that waits while
 * someone is choosing jobs or typing.
 */
export const SCRIPT = `(function(){
var d=document;
d.addEventListener('submit',function(e){
  var f=e.target,b=e.submitter,m=(b&&b.getAttribute('data-confirm'))||f.getAttribute('data-confirm');
  if(!m)return;
  if(!window.confirm(m)){e.preventDefault();return}
  var i=f.querySelector('input[name=confirm]');
  if(!i){i=d.createElement('input');i.type='hidden';i.name='confirm';f.appendChild(i)}
  i.value='yes';
});
d.querySelectorAll('[data-select-all]').forEach(function(w){
  w.hidden=false;
  var all=w.querySelector('input');
  all.addEventListener('change',function(){
    d.querySelectorAll('input[name=id]').forEach(function(c){c.checked=all.checked})
  });
});
var t=d.getElementById('refresh');
if(t)t.addEventListener('change',function(){
  var u=new URL(location.href);
  if(t.checked)u.searchParams.set('refresh','1');else u.searchParams.delete('refresh');
  u.searchParams.delete('cursor');location.assign(u.href);
});
var s=Number(d.body.getAttribute('data-refresh')||0);
if(s>0){var again=function(){
  var a=d.activeElement,busy=d.querySelector('input[name=id]:checked')||(a&&a!==t&&/^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName));
  if(busy)setTimeout(again,s*1000);else location.reload();
};setTimeout(again,s*1000)}
})();`;
