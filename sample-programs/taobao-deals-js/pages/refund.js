// After-sales for one paid order: refund an item (its share of what was paid),
// or the rest; the refunds and their status as the host reports them (asked on
// every showing, so a pull-down refresh shows a refund settling).
const catalogue = require('../utils/catalogue');
const store = require('../utils/store');

Page({
  data: { order: null, no: '', notice: null },

  onLoad(query) {
    this.no = query.order || '';
  },

  onShow() {
    this.refresh();
  },

  onPullDownRefresh() {
    this.refresh();
  },

  refresh(notice = null) {
    const order = store.order(this.no);
    if (!order) {
      this.setData({ order: null, no: this.no, notice });
      return;
    }
    const details = store.details(order.no);
    const lines = [];
    for (const line of order.lines) {
      const item = catalogue.item(line.item);
      if (!item) continue;
      const share = store.lineShare(order, line);
      const refund = details.refunds.find((r) => r.out_refund_no === store.refundNo(order.no, line.item));
      lines.push({
        id: item.id,
        title: item.title,
        quantity: line.quantity,
        share,
        status: refund ? store.refundStatus(refund.status) : null,
        refundable: !refund && share <= details.refundable_amount,
      });
    }
    const restAsked = details.refunds.some((r) => r.out_refund_no === store.refundNo(order.no));
    const refunds = details.refunds.map((r) => ({ no: r.out_refund_no, amount: r.amount, status: store.refundStatus(r.status) }));
    this.setData({
      order: { no: order.no },
      paid: details.paid_amount,
      refunded: details.refunded_amount,
      refundable: details.refundable_amount,
      lines,
      rest: details.refundable_amount > 0 && !restAsked,
      refunds,
      notice,
    });
  },

  refundItem(e) {
    this.ask(e.currentTarget.dataset.order, e.currentTarget.dataset.id);
  },

  refundRest(e) {
    this.ask(e.currentTarget.dataset.order, undefined);
  },

  ask(no, itemId) {
    let notice;
    try {
      const refund = store.refund(no, itemId);
      notice = { text: `已申请退款 Refund requested: ${store.refundStatus(refund.status)}`, tone: 'success' };
    } catch (error) {
      if (!(error instanceof miniapp.MiniappError)) throw error;
      notice = { text: `退款失败 Refund refused: ${error.message}`, tone: 'danger' };
    }
    this.refresh(notice);
  },

  openOrders() {
    wx.navigateTo({ url: '/pages/orders' });
  },

  home() {
    wx.navigateBack({ delta: 10 });
  },
});
