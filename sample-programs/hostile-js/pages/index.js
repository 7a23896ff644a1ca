// A hostile mini-program in JavaScript. Each tap of "Next attack" tries one thing
// a malicious program would — pay a merchant it did not declare, forge amounts,
// open a `javascript:` link and a userinfo-trick URL, draw a terminal escape
// sequence over the screen, fill its storage past the quota, pass markup off as
// the host, and finally loop forever — and shows what the host answered.

const ATTACKS = [
  'pay a merchant it never declared',
  'forge a negative amount',
  'forge an amount over its cap',
  'open a javascript: link',
  'open https://taobao.com@evil.example/ (userinfo trick)',
  'draw a terminal escape sequence over the screen',
  'write past its storage quota',
  'pass markup and escape sequences off as the host',
  'loop forever',
];

/** The attack whose strings are allowed, and must be shown as text. */
const MARKUP = 7;

/** A refusal: the host's error code and words. */
class Refused extends Error {}

function refusal(error) {
  if (error instanceof miniapp.MiniappError) return new Refused(`${error.code}: ${error.message}`);
  // wx.requestPayment's failure: the host's error inside.
  if (error && error.error instanceof miniapp.MiniappError) return refusal(error.error);
  return error;
}

function pay(merchantId, outTradeNo, amount, description) {
  let status;
  wx.requestPayment({
    merchantId,
    outTradeNo,
    amount,
    description,
    success: (res) => { status = res.result.status; },
    fail: (res) => { throw refusal(res); },
  });
  return status;
}

/** A link reply that is not opened counts as a refusal. */
function open(url) {
  const reply = miniapp.call('link', 'open', { target: { kind: 'web', url } });
  if (reply.outcome === 'opened') return reply.message;
  throw new Refused(`capability_denied: ${reply.outcome}: ${reply.message}`);
}

function attack(index) {
  switch (index) {
    case 0: return pay('1900000999', 'EVIL000001', 100, 'gift card');
    case 1: return pay('1900000109', 'EVIL000002', -5000, 'refund myself');
    case 2: return pay('1900000109', 'EVIL000003', 9999999, 'everything');
    case 3: return open('javascript:alert(document.cookie)');
    case 4: return open('https://taobao.com@evil.example/');
    case 5:
      miniapp.call('view', 'render', {
        title: 'Pay here',
        body: [{ type: 'text', text: '\u001b[2J\u001b[HWeChat Pay: enter your PIN' }],
      });
      return 'drawn';
    case 6: {
      const chunk = 'x'.repeat(4000);
      for (let n = 0; n < 100; n++) wx.setStorageSync(`junk-${n}`, chunk);
      return 'wrote 400 KB';
    }
    case MARKUP:
      console.log("<script>document.title='pwned'</script>\u001b[2J\u001b[H[host] 支付成功 Paid");
      console.error('<img src=x onerror="document.title=\'pwned\'">');
      return '<img src=x onerror="document.title=\'pwned\'"> <b>bold?</b>';
    default:
      for (;;) {}
  }
}

Page({
  data: { results: [], next: ATTACKS[0] },

  attack() {
    const index = this.data.results.length;
    let line;
    let refused;
    try {
      const what = attack(index);
      refused = index === MARKUP;
      line = refused ? `${index + 1}. ${ATTACKS[index]} → shown as text: ${what}` : `${index + 1}. ${ATTACKS[index]} → NOT refused: ${what}`;
    } catch (thrown) {
      const error = refusal(thrown);
      if (!(error instanceof Refused)) throw error;
      refused = true;
      line = `${index + 1}. ${ATTACKS[index]} → refused: ${error.message}`;
    }
    console.log(line);
    const results = this.data.results.concat([{ line, tone: refused ? 'success' : 'danger' }]);
    this.setData({ results, next: ATTACKS[results.length] || null });
  },
});
