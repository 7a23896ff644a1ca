// The orders, newest first; a paid one shows how it stands after sales (asked of
// the host each time the page shows) and, while something is refundable, 申请退款.
const store = require('../utils/store');

Page({
  data: { orders: [] },

  onShow() {
    this.refresh();
  },

  onPullDownRefresh() {
    this.refresh();
  },

  refresh() {
    const orders = store.orders().slice().reverse().slice(0, 20).map((order) => {
      const entry = { no: order.no, amount: order.amount, description: order.description, status: order.status, tone: 'muted', refundable: false };
      if (order.status === 'paid') {
        const details = store.details(order.no);
        entry.status = store.afterSalesStatus(details);
        entry.tone = 'success';
        entry.refundable = details.refundable_amount > 0 && order.lines.length > 0;
      }
      return entry;
    });
    this.setData({ orders });
  },

  openRefund(e) {
    wx.navigateTo({ url: `/pages/refund?order=${e.currentTarget.dataset.order}` });
  },

  home() {
    wx.navigateBack({ delta: 10 });
  },
});
