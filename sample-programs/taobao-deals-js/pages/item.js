// One deal: add to cart, buy now, share it (chat, group, Moments), the shop and
// its live room in the Taobao app.
const catalogue = require('../utils/catalogue');
const store = require('../utils/store');

function yuan(fen) {
  return `¥${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

/** The host's answer to a link or a share, as the storefront words it. */
function linkNotice(what, reply) {
  const opened = reply.outcome === 'opened' || reply.outcome === 'confirmed';
  return { text: `${what}: ${reply.outcome} — ${reply.message}`, tone: opened ? 'success' : 'danger' };
}

Page({
  data: { found: false, id: 0, notice: null },

  onLoad(query) {
    this.id = parseInt(query.id, 10) || 0;
    const item = catalogue.item(this.id);
    if (!item) {
      this.setData({ found: false, id: this.id });
      return;
    }
    const shop = catalogue.shop(item);
    wx.setNavigationBarTitle({ title: item.title });
    this.setData({
      found: true,
      item: {
        id: item.id,
        title: item.title,
        price: item.price,
        original: item.original,
        image: catalogue.image(item),
        discount: catalogue.discountPercent(item),
        shipping: item.freeShipping ? '包邮 Free shipping' : '运费 ¥8',
        sold: item.sold,
      },
      shop: { id: shop.id, name: shop.name, liveRoom: shop.liveRoom },
    });
  },

  onShow() {
    this.setData({ notice: null });
  },

  addToCart(e) {
    store.changeQuantity(e.currentTarget.dataset.id, 1);
    const item = catalogue.item(e.currentTarget.dataset.id);
    this.setData({ notice: { text: `已加入购物车 Added to cart: ${item.title}`, tone: 'success' } });
  },

  buyNow(e) {
    store.changeQuantity(e.currentTarget.dataset.id, 1);
    wx.navigateTo({ url: '/pages/cart' });
  },

  // The card a share button sends: the deal's page on taobao.com.
  onShareAppMessage(res) {
    const item = catalogue.item(res.target.dataset.id);
    return { title: `${yuan(item.price)} ${item.title}`, url: catalogue.webUrl(item), imageUrl: catalogue.image(item) };
  },

  shared(e) {
    this.setData({ notice: linkNotice(`分享 Share to ${e.currentTarget.dataset.surface}`, e.detail) });
  },

  async openShop(e) {
    const reply = await miniapp.openLink({ url: `taobao://shop/${e.currentTarget.dataset.id}` });
    this.setData({ notice: linkNotice('进店 Shop', reply) });
  },

  async openLive(e) {
    const reply = await miniapp.openLink({ url: `taobao://live/${e.currentTarget.dataset.room}` });
    this.setData({ notice: linkNotice('直播间 Live room', reply) });
  },

  openCart() {
    wx.navigateTo({ url: '/pages/cart' });
  },

  home() {
    wx.navigateBack({ delta: 10 });
  },
});
