// The storefront's state, kept in wx storage across runs: the cart, the order
// counter and the orders; and its calls to the host's payment API (the sheet,
// the order's whole state, refunds).

const catalogue = require('./catalogue');

/** The storefront's merchant account with the host. */
const MERCHANT = '1900000109';

function cart() {
  return wx.getStorageSync('cart') || { lines: [] };
}

function orders() {
  return wx.getStorageSync('orders') || [];
}

function order(no) {
  return orders().find((o) => o.no === no) || null;
}

function pieces(cart) {
  return cart.lines.reduce((sum, line) => sum + line.quantity, 0);
}

/** The cart's total and the coupon's discount, in fen. */
function totals(cart, code) {
  let total = 0;
  for (const line of cart.lines) {
    const item = catalogue.item(line.item);
    if (item) total += item.price * line.quantity;
  }
  const coupon = code ? catalogue.coupon(code) : null;
  const discount = coupon ? Math.min(Math.floor((total * coupon.percent) / 100), coupon.cap) : 0;
  return { total, discount };
}

/** Adds `delta` of item `id` to the cart (at most 99, at least none). */
function changeQuantity(id, delta) {
  if (!catalogue.item(id)) throw new Error(`no item ${id}`);
  const current = cart();
  const index = current.lines.findIndex((line) => line.item === id);
  if (index >= 0) {
    const quantity = Math.min(Math.max(current.lines[index].quantity + delta, 0), 99);
    if (quantity === 0) current.lines.splice(index, 1);
    else current.lines[index].quantity = quantity;
  } else if (delta > 0) {
    current.lines.push({ item: id, quantity: Math.min(delta, 99) });
  }
  wx.setStorageSync('cart', current);
}

/** The length of a string in UTF-8 bytes (the host's limit on a description). */
function utf8Length(text) {
  let bytes = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0);
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** Makes an order of the cart (`TD00000001`, …) and keeps it. */
function createOrder(code) {
  const current = cart();
  const { total, discount } = totals(current, code);
  const count = (wx.getStorageSync('order_counter') || 0) + 1;
  wx.setStorageSync('order_counter', count);
  const first = current.lines.length > 0 && catalogue.item(current.lines[0].item);
  let description = `淘宝特价 ${first ? first.title : ''}`;
  while (utf8Length(description) > 96) description = Array.from(description).slice(0, -1).join('');
  if (current.lines.length > 1) description += ` 等${pieces(current)}件`;
  const created = {
    no: `TD${String(count).padStart(8, '0')}`,
    amount: total - discount,
    pieces: pieces(current),
    description,
    status: 'created',
    method: null,
    transaction_id: null,
    reason: null,
    lines: current.lines,
    total,
  };
  wx.setStorageSync('orders', orders().concat([created]));
  return created;
}

const METHOD_NAMES = { alipay: '支付宝 Alipay', wechat_pay: '微信支付 WeChat Pay' };

/** Keeps what the host says about an order's payment. */
function recordResult(result) {
  const all = orders();
  const kept = all.find((o) => o.no === result.out_trade_no);
  if (kept) {
    kept.status = result.status;
    kept.method = result.method ? METHOD_NAMES[result.method] || result.method : null;
    kept.transaction_id = result.transaction_id || null;
    kept.reason = result.reason || null;
  }
  wx.setStorageSync('orders', all);
}

/**
 * Shows the host's payment sheet for an order (the sheet needs the user's tap:
 * call it from a bindtap method) and keeps the result; a paid order empties the cart.
 */
function pay(order) {
  let result = null;
  wx.requestPayment({
    merchantId: MERCHANT,
    outTradeNo: order.no,
    amount: order.amount,
    description: order.description,
    success: (res) => {
      result = res.result;
    },
    fail: (res) => {
      // A cancelled or failed payment is an answer (kept, retried later); a
      // refused request is the tap's failure.
      if (!res.result) throw new Error(res.errMsg);
      result = res.result;
    },
  });
  console.log(`order ${order.no}: ${result.status} (attempt ${result.attempt})`);
  recordResult(result);
  if (result.status === 'paid') wx.setStorageSync('cart', { lines: [] });
  return result;
}

/** The order's whole state at the host: paid, refunded, refundable, its refunds. */
function details(no) {
  return miniapp.call('payment', 'query', { merchant_id: MERCHANT, out_trade_no: no });
}

/**
 * The refund number of one line of an order (`TD00000001-1042`), or of the rest
 * of it (`TD00000001-REST`): the same request is the same refund.
 */
function refundNo(no, item) {
  return item === undefined ? `${no}-REST` : `${no}-${item}`;
}

/** A line's share of what was paid, in whole fen (rounded down, so the shares never add up to more). */
function lineShare(order, line) {
  const item = catalogue.item(line.item);
  const price = item ? item.price * line.quantity : 0;
  return order.total === 0 ? 0 : Math.floor((price * order.amount) / order.total);
}

/** Asks the host to refund one line of order `no`, or everything still refundable. */
function refund(no, itemId) {
  const kept = order(no);
  if (!kept) throw new Error(`no order ${no}`);
  let amount;
  let reason;
  if (itemId === undefined) {
    amount = details(no).refundable_amount;
    reason = '整单退款';
  } else {
    const line = kept.lines.find((l) => l.item === itemId);
    if (!line) throw new Error(`order ${no} has no item ${itemId}`);
    amount = lineShare(kept, line);
    reason = `退货 ${Array.from(catalogue.item(itemId).title).slice(0, 40).join('')}`;
  }
  return miniapp.call('payment', 'refund', {
    merchant_id: MERCHANT,
    out_trade_no: no,
    out_refund_no: refundNo(no, itemId),
    amount,
    reason,
  });
}

const REFUND_STATUS = {
  processing: '退款中 Processing',
  success: '退款成功 Refunded',
  abnormal: '退款异常 Abnormal',
  closed: '退款关闭 Closed',
};

/** How a refund stands, in the storefront's words (short enough for a badge). */
function refundStatus(status) {
  if (!REFUND_STATUS[status]) throw new Error(`unknown refund status ${status}`);
  return REFUND_STATUS[status];
}

/** How a paid order stands after sales. */
function afterSalesStatus(d) {
  if (d.refunds.some((r) => r.status === 'processing')) return '退款中 Processing';
  if (d.refunded_amount > 0 && d.refunded_amount === d.paid_amount) return '已退款 Refunded';
  if (d.refunded_amount > 0) return '部分退款 Partial';
  return 'paid';
}

module.exports = {
  MERCHANT,
  cart,
  orders,
  order,
  pieces,
  totals,
  changeQuantity,
  createOrder,
  recordResult,
  pay,
  details,
  refundNo,
  lineShare,
  refund,
  refundStatus,
  afterSalesStatus,
};
