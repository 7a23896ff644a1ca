// The cart: quantities, a coupon, checkout on the host's payment sheet.
const catalogue = require('../utils/catalogue');
const store = require('../utils/store');

Page({
  data: { lines: [], notice: null },

  onShow() {
    this.refresh();
  },

  onPullDownRefresh() {
    this.refresh();
  },

  refresh(notice = null) {
    const cart = store.cart();
    const coupon = getApp().globalData.coupon;
    const { total, discount } = store.totals(cart, coupon);
    const lines = [];
    for (const line of cart.lines) {
      const item = catalogue.item(line.item);
      if (item) lines.push({ id: item.id, title: item.title, amount: item.price * line.quantity, quantity: line.quantity });
    }
    this.setData({ lines, coupon: coupon || '', discount, due: total - discount, pieces: store.pieces(cart), notice });
  },

  increment(e) {
    store.changeQuantity(e.currentTarget.dataset.id, 1);
    this.refresh();
  },

  decrement(e) {
    store.changeQuantity(e.currentTarget.dataset.id, -1);
    this.refresh();
  },

  remove(e) {
    store.changeQuantity(e.currentTarget.dataset.id, -1000);
    this.refresh();
  },

  applyCoupon(e) {
    const code = String(e.detail.value).trim().toUpperCase();
    const coupon = catalogue.coupon(code);
    const globalData = getApp().globalData;
    if (coupon) {
      globalData.coupon = coupon.code;
      this.refresh({ text: `优惠码 ${coupon.code} 已使用: ${coupon.percent}% off`, tone: 'success' });
    } else if (code === '') {
      globalData.coupon = null;
      this.refresh();
    } else {
      this.refresh({ text: `优惠码无效 Unknown coupon ${code}`, tone: 'danger' });
    }
  },

  checkout() {
    if (store.cart().lines.length === 0) {
      this.refresh({ text: '购物车是空的 Your cart is empty', tone: 'danger' });
      return;
    }
    const order = store.createOrder(getApp().globalData.coupon);
    const result = store.pay(order);
    if (result.status === 'paid') getApp().globalData.coupon = null;
    wx.redirectTo({ url: `/pages/result?order=${order.no}` });
  },

  home() {
    wx.navigateBack({ delta: 10 });
  },
});
